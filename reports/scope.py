"""Who may report on which call: the agency everything, a municipality its calls (its
residents only), a fund manager his funds' calls, a funder the calls he financed."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from django.db.models import QuerySet

from core.models import Contribution, Membership, Organization, Role
from core.roles import AnyUser
from vouchers.models import Initiative
from vouchers.selectors.scope import StaffScope, initiatives_for, initiatives_of_managed_funds


@dataclass(frozen=True)
class ReportScope:
    """The calls and funders a staff user may report on, and whose people he may count.

    ``municipality_ids`` is None when the user may count every beneficiary of a call; a
    municipal user counts only his municipalities' residents, even in a joint call.
    """

    initiatives: QuerySet[Initiative]
    funders: QuerySet[Organization]
    municipality_ids: frozenset[int] | None
    shops_visible: bool
    allowed: bool = True


def funders_of(*, user_id: int) -> QuerySet[Organization]:
    return Organization.objects.filter(
        pk__in=Membership.objects.filter(user_id=user_id, role=Role.FUNDER).values(
            "organization_id"
        )
    )


def initiatives_financed_by(
    *, funder_ids: Iterable[int] | QuerySet[Organization]
) -> QuerySet[Initiative]:
    """Calls paid from a fund these funders contributed to."""
    return Initiative.objects.filter(
        fund__in=Contribution.objects.filter(funder__in=funder_ids).values("fund_id")
    )


def report_scope(*, user: AnyUser, scope: StaffScope) -> ReportScope:
    """What a staff user may report on: the agency everything, a municipality its calls
    (its residents only), a fund manager his funds' calls, a funder the calls he financed
    (totals only: no list of shops)."""
    contributors = Organization.objects.filter(
        pk__in=Contribution.objects.values("funder_id")
    ).order_by("name")
    if scope.everything:
        return ReportScope(Initiative.objects.all(), contributors, None, True)
    staff_roles = scope.roles - {Role.TUTOR, Role.FUNDER}
    if scope.municipality_ids and staff_roles:
        # A tutor's view of every call does not widen a municipal user's reports.
        municipal = StaffScope(
            user_id=scope.user_id,
            everything=False,
            roles=frozenset(staff_roles),
            municipality_ids=scope.municipality_ids,
        )
        return ReportScope(
            initiatives_for(user=user, scope=municipal),
            Organization.objects.none(),
            scope.municipality_ids,
            True,
        )
    if Role.FUND_MANAGER in scope.roles:
        return ReportScope(
            initiatives_of_managed_funds(user_id=scope.user_id),
            Organization.objects.none(),
            None,
            True,
        )
    if Role.FUNDER in scope.roles:
        # A funder's role comes from his memberships: he has an id.
        funders = funders_of(user_id=cast(int, scope.user_id))
        return ReportScope(initiatives_financed_by(funder_ids=funders), funders, None, False)
    return ReportScope(
        Initiative.objects.none(), Organization.objects.none(), frozenset(), False, allowed=False
    )


# --- the figures ---------------------------------------------------------------------------------
