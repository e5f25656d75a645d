"""Who sees what: a staff user's scope of municipalities, calls, applications, beneficiaries
and vouchers, and the calls list's figures."""

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from core.models import (
    Contribution,
    Membership,
    Organization,
    Role,
)
from core.roles import AnyUser, user_memberships
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    InitiativeFunding,
    Voucher,
)


def voucher_visible_to(*, user: AnyUser, voucher_id: int) -> Voucher | None:
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


def staff_scope(*, user: AnyUser) -> StaffScope:
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


def initiatives_for(*, user: AnyUser, scope: StaffScope | None = None) -> QuerySet[Initiative]:
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
        visible |= Q(pk__in=initiatives_of_managed_funds(user_id=scope.user_id).values("pk"))
    return calls.filter(visible)


def initiatives_of_managed_funds(*, user_id: int | None) -> QuerySet[Initiative]:
    """Calls financed by a fund that an organisation the user is fund manager of manages:
    the call's own fund, or a fund one of its funding sources comes from."""
    if user_id is None:  # nobody signed in: no membership
        return Initiative.objects.none()
    managed = Membership.objects.filter(user_id=user_id, role=Role.FUND_MANAGER).values(
        "organization_id"
    )
    return Initiative.objects.filter(
        Q(fund__manager__in=managed)
        | Q(pk__in=InitiativeFunding.objects.filter(fund__manager__in=managed).values("initiative"))
    )


def initiatives_financed_for(*, scope: StaffScope) -> QuerySet[Initiative]:
    """The calls a fund manager or a funder reads the figures of: those his funds finance,
    and those paid from a fund his organisations contributed to."""
    calls = Q(pk__in=[])
    if Role.FUND_MANAGER in scope.roles:
        calls |= Q(pk__in=initiatives_of_managed_funds(user_id=scope.user_id).values("pk"))
    if Role.FUNDER in scope.roles and scope.user_id is not None:
        funders = Membership.objects.filter(user_id=scope.user_id, role=Role.FUNDER)
        calls |= Q(
            fund__in=Contribution.objects.filter(
                funder__in=funders.values("organization_id")
            ).values("fund_id")
        )
    return Initiative.objects.filter(calls)


def applications_for(*, user: AnyUser, scope: StaffScope | None = None) -> QuerySet[Application]:
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


def beneficiaries_for(*, user: AnyUser, scope: StaffScope | None = None) -> QuerySet[Beneficiary]:
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


def vouchers_for(*, user: AnyUser, scope: StaffScope | None = None) -> QuerySet[Voucher]:
    scope = scope or staff_scope(user=user)
    vouchers = Voucher.objects.all()
    if scope.everything:
        return vouchers
    return vouchers.filter(beneficiary__in=beneficiaries_for(user=user, scope=scope))


# --- The calls list's figures ------------------------------------------------------------------

# The calls list shows figures that read every voucher: they are computed for all calls at
# once and kept this long, rather than counted per row on every page.
INITIATIVE_FIGURES_SECONDS = 5 * 60


def initiative_voucher_figures(*, refresh: bool = False) -> dict[int, dict[str, int]]:
    """Vouchers issued and active per call, for the calls list (kept a few minutes)."""
    figures = None if refresh else cache.get("admin:calls:vouchers")
    if figures is None:
        figures = {}
        for row in (
            Voucher.objects.order_by().values("initiative_id", "status").annotate(count=Count("pk"))
        ):
            row_figures = figures.setdefault(row["initiative_id"], {"issued": 0, "active": 0})
            row_figures["issued"] += row["count"]
            if row["status"] == Voucher.Status.ACTIVE:
                row_figures["active"] += row["count"]
        cache.set("admin:calls:vouchers", figures, INITIATIVE_FIGURES_SECONDS)
    return figures
