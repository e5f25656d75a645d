"""What is to be paid to beneficiaries: reimbursement claims and cash grants, their IBANs and
the transfers the bank paid."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from core.models import (
    PaymentBatch,
    PaymentLine,
)
from core.money import ZERO
from vouchers.models import (
    Application,
    Expense,
    Initiative,
    ReimbursementClaim,
)


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
