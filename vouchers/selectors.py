"""Read queries about calls, beneficiaries and vouchers."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db.models import Q, QuerySet

from core.models import Account, Contribution, Membership, Organization, PaymentLine, Posting, Role
from core.roles import user_memberships
from core.selectors import money_sum
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    InitiativeFunding,
    ReimbursementClaim,
    Voucher,
)


def voucher_visible_to(*, user, voucher_id: int) -> Voucher | None:
    """Return the voucher if the user is its holder or staff allowed to see vouchers."""
    voucher = (
        Voucher.objects.select_related("beneficiary", "initiative").filter(pk=voucher_id).first()
    )
    if voucher is None or not user.is_authenticated:
        return None
    if voucher.beneficiary.user_id == user.pk:
        return voucher
    if (
        user.is_staff
        and user.has_perm("vouchers.view_voucher")
        and vouchers_for(user=user).filter(pk=voucher.pk).exists()
    ):
        return voucher
    return None


def voucher_ledger_balance(*, voucher_id: int) -> Decimal:
    """Recompute a voucher's balance from the ledger alone."""
    return money_sum(
        Posting.objects.filter(
            account__kind=Account.Kind.VOUCHERS_OUTSTANDING, voucher_ref=voucher_id
        )
    )


def vouchers_of_holder(*, beneficiary_id: int) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(beneficiary_id=beneficiary_id)
        .select_related("initiative")
        .order_by("-issued_at")
    )


@dataclass(frozen=True, slots=True)
class StaffScope:
    """Whose data a staff user may see: read once (two queries) and reused for a request."""

    user_id: int | None
    everything: bool
    roles: frozenset[str]
    municipality_ids: frozenset[int]

    @property
    def funder_only(self) -> bool:
        return not self.everything and self.roles <= {Role.FUNDER}

    @property
    def figures_only(self) -> bool:
        """Whether the user reads only figures of the calls his money finances (a funder or
        a fund manager with no other role): no person, no shop."""
        return not self.everything and self.roles <= {Role.FUNDER, Role.FUND_MANAGER}

    @property
    def tutor_only(self) -> bool:
        return not self.everything and self.roles == {Role.TUTOR}


def staff_scope(*, user) -> StaffScope:
    """Read a user's roles and municipalities in one query.

    The same rules as ``core.roles``: superusers and the agency see everything; the
    municipalities are those of the user's memberships in a municipality.
    """
    if getattr(user, "is_superuser", False):
        # Sees everything whatever his memberships: no need to read them.
        return StaffScope(
            user_id=user.pk, everything=True, roles=frozenset(), municipality_ids=frozenset()
        )
    memberships = user_memberships(user)
    roles = frozenset(role for role, _organization, _kind in memberships)
    everything = Role.AGENCY_ADMIN in roles
    return StaffScope(
        user_id=user.pk,
        everything=everything,
        roles=roles,
        municipality_ids=frozenset()
        if everything
        else frozenset(
            organization
            for _role, organization, kind in memberships
            if kind == Organization.Kind.MUNICIPALITY
        ),
    )


def initiatives_for(*, user, scope: StaffScope | None = None) -> QuerySet[Initiative]:
    """Calls this staff user may see: all for the agency, else his municipalities' calls.

    Tutors, who follow people of any municipality, also see every call past its draft; a
    fund manager the calls his funds finance.
    """
    scope = scope or staff_scope(user=user)
    calls = Initiative.objects.all()
    if scope.everything:
        return calls
    visible = Q(
        pk__in=Initiative.municipalities.through.objects.filter(
            organization_id__in=scope.municipality_ids
        ).values("initiative_id")
    )
    if Role.TUTOR in scope.roles:
        visible |= ~Q(status=Initiative.Status.DRAFT)
    if Role.FUND_MANAGER in scope.roles:
        visible |= Q(pk__in=calls_of_managed_funds(user_id=scope.user_id).values("pk"))
    return calls.filter(visible)


def calls_of_managed_funds(*, user_id: int | None) -> QuerySet[Initiative]:
    """Calls financed by a fund that an organisation the user is fund manager of manages:
    the call's own fund, or a fund one of its funding sources comes from."""
    managed = Membership.objects.filter(user_id=user_id, role=Role.FUND_MANAGER).values(
        "organization_id"
    )
    return Initiative.objects.filter(
        Q(fund__manager__in=managed)
        | Q(pk__in=InitiativeFunding.objects.filter(fund__manager__in=managed).values("initiative"))
    )


def calls_financed_for(*, scope: StaffScope) -> QuerySet[Initiative]:
    """The calls a fund manager or a funder reads the figures of: those his funds finance,
    and those paid from a fund his organisations contributed to."""
    calls = Q(pk__in=[])
    if Role.FUND_MANAGER in scope.roles:
        calls |= Q(pk__in=calls_of_managed_funds(user_id=scope.user_id).values("pk"))
    if Role.FUNDER in scope.roles:
        funders = Membership.objects.filter(user_id=scope.user_id, role=Role.FUNDER)
        calls |= Q(
            fund__in=Contribution.objects.filter(
                funder__in=funders.values("organization_id")
            ).values("fund_id")
        )
    return Initiative.objects.filter(calls)


def applications_for(*, user, scope: StaffScope | None = None) -> QuerySet[Application]:
    """Applications this user may see: his municipalities' citizens, or a tutor's own cases."""
    scope = scope or staff_scope(user=user)
    applications = Application.objects.all()
    if scope.everything:
        return applications
    if scope.funder_only:
        return applications.none()
    visible = (
        Q(municipality_id__in=scope.municipality_ids)
        if scope.roles - {Role.TUTOR}
        else Q(pk__in=[])
    )
    if Role.TUTOR in scope.roles:
        visible |= Q(tutor_id=scope.user_id)
    return applications.filter(visible)


def beneficiaries_for(*, user, scope: StaffScope | None = None) -> QuerySet[Beneficiary]:
    """Citizens this user may see: his municipalities' residents, or a tutor's own cases."""
    scope = scope or staff_scope(user=user)
    beneficiaries = Beneficiary.objects.all()
    if scope.everything:
        return beneficiaries
    if scope.funder_only:
        return beneficiaries.none()
    visible = (
        Q(municipality_id__in=scope.municipality_ids)
        if scope.roles - {Role.TUTOR}
        else Q(pk__in=[])
    )
    if Role.TUTOR in scope.roles:
        visible |= Q(
            pk__in=Application.objects.filter(tutor_id=scope.user_id).values("applicant_id")
        )
    return beneficiaries.filter(visible)


def vouchers_for(*, user, scope: StaffScope | None = None) -> QuerySet[Voucher]:
    scope = scope or staff_scope(user=user)
    vouchers = Voucher.objects.all()
    if scope.everything:
        return vouchers
    return vouchers.filter(beneficiary__in=beneficiaries_for(user=user, scope=scope))


class DateRange(Protocol):
    """A period that filters rows by a date-time (``reports.figures.Period``)."""

    def lookups(self, path: str) -> dict[str, datetime]: ...


def beneficiary_transfers_paid(
    *,
    initiative_ids: Iterable[int],
    benefit_kind: str,
    municipality_ids: Iterable[int] | None = None,
    period: DateRange | None = None,
) -> QuerySet[PaymentLine]:
    """The transfers paying the calls' reimbursement claims (or, for ``CASH_TRANSFER``, their
    cash contributions) that the bank paid and whose ledger entry (payable to paid) is posted;
    of the applicants of ``municipality_ids`` only, when given; paid in ``period`` when given
    (``reports.figures.Period``)."""
    lines = PaymentLine.objects.filter(
        paid_at__isnull=False,
        journal__isnull=False,
        **(period.lookups("paid_at") if period is not None else {}),
    )
    if benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        claims = ReimbursementClaim.objects.filter(initiative_id__in=initiative_ids)
        if municipality_ids is not None:
            claims = claims.filter(application__municipality_id__in=municipality_ids)
        return lines.filter(claim_ref__in=claims.values("pk"))
    applications = Application.objects.filter(
        initiative_id__in=initiative_ids,
        initiative__benefit_kind=Initiative.BenefitKind.CASH_TRANSFER,
    )
    if municipality_ids is not None:
        applications = applications.filter(municipality_id__in=municipality_ids)
    return lines.filter(application_ref__in=applications.values("pk"))
