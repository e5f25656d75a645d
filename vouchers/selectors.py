"""Read queries about calls, beneficiaries and vouchers: who sees what, budgets and waiting lists,
what is to be paid to beneficiaries, retention and issuing runs."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from core.models import (
    Account,
    Contribution,
    Membership,
    Organization,
    PaymentBatch,
    PaymentLine,
    Posting,
    Role,
)
from core.money import ZERO
from core.roles import AnyUser, user_memberships
from core.selectors import account_balance, money_sum
from vouchers.models import (
    Application,
    Beneficiary,
    Decision,
    Expense,
    Initiative,
    InitiativeFunding,
    IssuanceRun,
    ReimbursementClaim,
    Voucher,
    WaitingListFunding,
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


def public_initiatives() -> QuerySet[Initiative]:
    """The calls citizens see in the app: published and after, never a draft or an archive."""
    return Initiative.objects.filter(status__in=Initiative.PUBLIC_STATUSES)


def open_initiatives() -> QuerySet[Initiative]:
    """The published calls, by title: those the app's home page offers."""
    return Initiative.objects.filter(status=Initiative.Status.PUBLISHED).order_by("title")


def ranking_initiatives() -> QuerySet[Initiative]:
    """The calls whose ranking is public."""
    return Initiative.objects.filter(status__in=Initiative.RANKING_PUBLIC_STATUSES)


def initiative_public_ranking(*, initiative: Initiative) -> list[dict[str, object]]:
    """The public ranking of a call: protocol numbers, positions and outcomes only, no names."""
    rows = (
        initiative.applications.filter(rank__isnull=False)
        .order_by("rank")
        .values("rank", "protocol_year", "protocol_sequence", "status", "outcome")
    )
    return [
        {
            "rank": row["rank"],
            "protocol": Application.protocol_for(
                year=row["protocol_year"], sequence=row["protocol_sequence"]
            ),
            "outcome": Application.outcome_for(status=row["status"], outcome=row["outcome"])[1],
        }
        for row in rows
    ]


def applications_of_applicant(*, beneficiary_id: int) -> QuerySet[Application]:
    """A citizen's own applications, the latest first."""
    return (
        Application.objects.filter(applicant_id=beneficiary_id)
        .select_related("initiative")
        .order_by("-submitted_at")
    )


def application_last_information_request(*, application: Application) -> Decision | None:
    """The request for information the applicant has still to answer, if any."""
    if application.status != Application.Status.INFO_REQUESTED:
        return None
    return (
        application.decisions.filter(action=Decision.Action.REQUEST_INFO)
        .order_by("-decided_at")
        .first()
    )


def claims_of_beneficiary(*, beneficiary_id: int) -> QuerySet[ReimbursementClaim]:
    """A citizen's own reimbursement claims with their expenses, the latest first."""
    return (
        ReimbursementClaim.objects.filter(beneficiary_id=beneficiary_id)
        .select_related("initiative")
        .prefetch_related("expenses__category")
        .order_by("-submitted_at")
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


# --- A call's budget and its waiting list --------------------------------------------------------


def initiative_budget_available(*, initiative: Initiative) -> Decimal:
    return account_balance(key=initiative.budget_account_key)


def _committed_unissued(initiative: Initiative) -> Decimal:
    """What the call's funded applications will still take from its budget.

    A funded application of a voucher or cash call takes its whole amount when the call
    issues; one of a reimbursement call takes it claim by claim, so what its approved claims
    already took from the budget is no longer committed.
    """
    total = ZERO
    for amount in initiative.applications.filter(outcome=Application.Outcome.FUNDED).values_list(
        "amount", flat=True
    ):
        total += amount or ZERO
    if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        total -= money_sum(
            Expense.objects.filter(
                claim__application__initiative=initiative,
                claim__application__outcome=Application.Outcome.FUNDED,
                claim__status__in=[
                    ReimbursementClaim.Status.APPROVED,
                    ReimbursementClaim.Status.PARTLY_APPROVED,
                    ReimbursementClaim.Status.PAID,
                ],
            ),
            "approved_amount",
        )
    return max(total, ZERO)


def waiting_list_fundable(*, initiative: Initiative) -> tuple[Decimal, list[Application]]:
    """The budget not yet committed, and the next waiting applications it can fund, in order.

    The ranking is strict: nobody overtakes the first who does not fit.
    """
    free = initiative_budget_available(initiative=initiative) - _committed_unissued(initiative)
    left = free
    fundable = []
    for application in initiative.applications.filter(
        outcome=Application.Outcome.WAITING, status=Application.Status.APPROVED
    ).order_by("rank"):
        if application.amount is None or application.amount <= ZERO:
            continue
        if application.amount > left:
            break
        left -= application.amount
        fundable.append(application)
    return free, fundable


def waiting_list_pending(*, initiative: Initiative) -> WaitingListFunding | None:
    """The scorrimento of this call waiting for approval, if any."""
    return (
        initiative.waiting_list_fundings.filter(status=WaitingListFunding.Status.PROPOSED)
        .select_related("proposed_by")
        .first()
    )


# --- Reimbursement claims and their payment ------------------------------------------------------


def approved_total(claim: ReimbursementClaim) -> Decimal:
    """What a claim's lines were approved for (refused and pending lines count nothing)."""
    amounts = claim.expenses.exclude(approved_amount=None).values_list("approved_amount", flat=True)
    return sum((amount for amount in amounts if amount is not None), ZERO)


def claims_awaiting_payment(
    *, initiative: Initiative | None = None
) -> QuerySet[ReimbursementClaim]:
    """Approved claims in no payment batch, or only in a cancelled one."""
    in_batch = PaymentLine.objects.filter(claim_ref=OuterRef("pk")).exclude(
        batch__status=PaymentBatch.Status.CANCELLED
    )
    claims = ReimbursementClaim.objects.filter(
        status__in=[ReimbursementClaim.Status.APPROVED, ReimbursementClaim.Status.PARTLY_APPROVED]
    ).filter(~Exists(in_batch))
    if initiative is not None:
        claims = claims.filter(initiative=initiative)
    return claims.select_related(
        "initiative", "beneficiary", "application", "application__municipality"
    ).order_by("pk")


@dataclass(frozen=True, slots=True)
class PayableClaim:
    claim: ReimbursementClaim
    amount: Decimal
    iban: str = ""
    excluded_reason: str = ""


def payable_claims(
    *, initiative: Initiative | None = None
) -> tuple[list[PayableClaim], list[PayableClaim]]:
    """The claims a batch would pay now, and those it leaves out with the reason (the IBAN)."""
    claims = list(claims_awaiting_payment(initiative=initiative))
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for claim_id, amount in Expense.objects.filter(
        claim__in=[c.pk for c in claims], approved_amount__gt=0
    ).values_list("claim_id", "approved_amount"):
        totals[claim_id] += amount or ZERO  # never None (> 0): the stubs cannot tell
    payable, excluded = [], []
    for claim in claims:
        amount = totals[claim.pk]
        compact, reason = iban_for_payment(claim.application.iban)
        if reason:
            excluded.append(PayableClaim(claim, amount, claim.application.iban.strip(), reason))
        else:
            payable.append(PayableClaim(claim, amount, compact))
    return payable, excluded


def claim_remittance(claim: ReimbursementClaim) -> str:
    """The transfer's reason on the beneficiary's statement (always Italian)."""
    return f"Rimborso {claim.initiative.title} {claim.application.protocol_number}"


# --- Cash grants («contributo economico») and their payment --------------------------------------


def in_live_payment_batch() -> Exists:
    """Whether an application's cash grant is in a payment batch that is not cancelled."""
    return Exists(
        PaymentLine.objects.filter(application_ref=OuterRef("pk")).exclude(
            batch__status=PaymentBatch.Status.CANCELLED
        )
    )


def cash_grants_awaiting_payment(*, initiative: Initiative | None = None) -> QuerySet[Application]:
    """Granted, unpaid cash grants in no payment batch, or only in a cancelled one."""
    applications = Application.objects.filter(
        initiative__benefit_kind=Initiative.BenefitKind.CASH_TRANSFER,
        status=Application.Status.APPROVED,
        outcome=Application.Outcome.ISSUED,
        paid_at=None,
        amount__gt=0,
    ).filter(~in_live_payment_batch())
    if initiative is not None:
        applications = applications.filter(initiative=initiative)
    return applications.select_related("initiative", "applicant", "municipality").order_by("pk")


def iban_for_payment(iban: str) -> tuple[str, str]:
    """The IBAN to pay, compacted, or ``""`` and the reason it cannot be paid."""
    iban = (iban or "").strip()
    if not iban:
        return "", gettext("IBAN mancante")
    try:
        return IBAN(iban, validate_bban=True).compact, ""
    except SchwiftyException:
        return "", gettext("IBAN non valido: %(iban)s") % {"iban": iban}


@dataclass(frozen=True, slots=True)
class PayableCashGrant:
    application: Application
    amount: Decimal
    iban: str = ""
    excluded_reason: str = ""


def payable_cash_grants(
    *, initiative: Initiative | None = None
) -> tuple[list[PayableCashGrant], list[PayableCashGrant]]:
    """The cash grants a batch would pay now, and those it leaves out with the reason."""
    payable, excluded = [], []
    for application in cash_grants_awaiting_payment(initiative=initiative):
        amount = application.amount or ZERO  # never None (amount > 0): the stubs cannot tell
        iban, reason = iban_for_payment(application.iban)
        if reason:
            excluded.append(PayableCashGrant(application, amount, application.iban, reason))
        else:
            payable.append(PayableCashGrant(application, amount, iban))
    return payable, excluded


def cash_grant_remittance(application: Application) -> str:
    """The transfer's reason on the beneficiary's statement (always Italian)."""
    return f"Contributo {application.initiative.title} {application.protocol_number}"


@dataclass(frozen=True, slots=True)
class CashGrantStatus:
    code: str  # "to_pay", "in_payment" or "paid"
    label: str
    amount: Decimal
    iban_ending: str
    paid_at: datetime | None = None


def iban_ending(iban: str) -> str:
    """The last four characters of an IBAN, all a letter or a page should show of it."""
    compact = "".join((iban or "").split())
    return compact[-4:].upper()


def cash_grant_status(*, application: Application) -> CashGrantStatus | None:
    """Where a cash grant is: to pay, in a payment batch, or paid."""
    if (
        application.initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER
        or application.outcome != Application.Outcome.ISSUED
        or application.status != Application.Status.APPROVED
    ):
        return None
    if application.paid_at is not None:
        code, label = "paid", gettext("Pagato con bonifico")
    elif Application.objects.filter(pk=application.pk).filter(in_live_payment_batch()).exists():
        code, label = "in_payment", gettext("Bonifico disposto, in attesa della banca")
    else:
        code, label = "to_pay", gettext("Concesso, in attesa del bonifico")
    return CashGrantStatus(
        code=code,
        label=label,
        amount=application.amount or ZERO,
        iban_ending=iban_ending(application.iban),
        paid_at=application.paid_at,
    )


# --- Retention and issuing runs ------------------------------------------------------------------


def retention_expired(initiative: Initiative, *, today: date) -> bool:
    return today > initiative.retain_until


def initiatives_due_for_anonymisation(*, today: date | None = None) -> list[Initiative]:
    """Archived calls past their term whose personal data is still there."""
    today = today or timezone.localdate()
    candidates = Initiative.objects.filter(
        status=Initiative.Status.ARCHIVED, personal_data_erased_at__isnull=True
    ).order_by("pk")
    return [i for i in candidates if retention_expired(i, today=today)]


def issuance_stale_before(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.ISSUANCE_RUN_STALE_MINUTES)


def stale_issuance_runs(*, now: datetime | None = None) -> QuerySet[IssuanceRun]:
    """Queued runs that the queue never took, or that no worker started in time."""
    return IssuanceRun.objects.filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=issuance_stale_before(now or timezone.now())),
        status=IssuanceRun.Status.QUEUED,
    ).order_by("pk")


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
