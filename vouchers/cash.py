"""Cash contributions (contributo economico): granted when a call issues, paid by transfer.

Issuing a cash call moves each funded application's amount, in the ledger, from the call's
budget to what the agency owes the person (``beneficiary:<id>:payable``, the account an
approved reimbursement uses too) and marks the application issued. The contribution then goes
out in a beneficiary payment batch (``vouchers.reimbursements``), one transfer per application
to the IBAN of the application; when the bank pays it, core moves the payable to paid and the
application records when it was paid. An application withdrawn before its transfer is in a
batch gives its contribution back to the call's budget.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch, PaymentLine
from core.money import ZERO, format_euro
from core.services.ledger import Line, journal_post
from core.services.payment_ledger import CHUNK, beneficiary_payable_key, payment_lines_paid_handler
from vouchers.models import Application, Beneficiary, Initiative
from vouchers.services import budget_line, initiative_budget_available


class CashError(DomainError):
    messages = {
        "insufficient_budget": _(
            "Il budget del bando non basta: servono %(needed)s, sono disponibili %(available)s."
        ),
        "contribution_in_payment": _(
            "Il contributo di questa domanda è in una distinta di pagamento o è già stato "
            "pagato: non si può più ritirare."
        ),
    }


def _payable_line(beneficiary_id: int, name: str, amount: Decimal) -> Line:
    return Line(
        beneficiary_payable_key(beneficiary_id),
        amount,
        Account.Kind.BENEFICIARY_PAYABLE,
        f"Debito verso {name}"[:200],
    )


def contributions_grant(
    *,
    initiative: Initiative,
    applications: list[tuple[int, int, Decimal | None]],
    granted_by=None,
) -> int:
    """Grant the contributions of funded applications ``(id, applicant id, amount)``.

    Called inside its caller's transaction, with the call's row and the applications locked:
    refuses what the budget cannot cover, then moves the total, in one journal, from the
    budget to what the agency owes each person. Returns how many contributions it granted.
    """
    grants = [
        (pk, applicant_id, amount)
        for pk, applicant_id, amount in applications
        if amount is not None and amount > ZERO
    ]
    if not grants:
        return 0
    total = sum((amount for _pk, _applicant, amount in grants), ZERO)
    available = initiative_budget_available(initiative=initiative)
    if available < total:
        raise CashError(
            "insufficient_budget", needed=format_euro(total), available=format_euro(available)
        )
    names = {
        pk: f"{first} {last}".strip()
        for pk, first, last in Beneficiary.objects.filter(
            pk__in=[applicant_id for _pk, applicant_id, _amount in grants]
        ).values_list("pk", "first_name", "last_name")
    }
    journal_post(
        kind=Journal.Kind.CASH_CONTRIBUTION,
        lines=[
            budget_line(initiative=initiative, amount=-total),
            *(
                _payable_line(applicant_id, names.get(applicant_id, ""), amount)
                for _pk, applicant_id, amount in grants
            ),
        ],
        memo=f"Contributi {initiative.title} · {len(grants)} domande",
        created_by=granted_by,
    )
    return len(grants)


def _in_live_batch() -> Exists:
    return Exists(
        PaymentLine.objects.filter(application_ref=OuterRef("pk")).exclude(
            batch__status=PaymentBatch.Status.CANCELLED
        )
    )


def contribution_cancel(*, application: Application, cancelled_by=None) -> Journal | None:
    """Give a withdrawn application's granted contribution back to the call's budget.

    Called inside the withdrawal's transaction, with the application locked. A contribution
    already in a payment batch (not cancelled) or paid stays: the withdrawal is refused.
    """
    if (
        application.outcome != Application.Outcome.ISSUED
        or application.initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER
        or not application.amount
    ):
        return None
    if (
        application.paid_at is not None
        or Application.objects.filter(pk=application.pk).filter(_in_live_batch()).exists()
    ):
        raise CashError("contribution_in_payment")
    beneficiary = application.applicant
    return journal_post(
        kind=Journal.Kind.CASH_CONTRIBUTION_CANCELLED,
        lines=[
            _payable_line(beneficiary.pk, beneficiary.full_name, -application.amount),
            budget_line(initiative=application.initiative, amount=application.amount),
        ],
        memo=f"Contributo ritirato {application.protocol_number}",
        created_by=cancelled_by,
    )


# --- Payment ---------------------------------------------------------------------------------


def contributions_awaiting_payment(*, initiative: Initiative | None = None) -> QuerySet:
    """Granted, unpaid contributions in no payment batch, or only in a cancelled one."""
    applications = Application.objects.filter(
        initiative__benefit_kind=Initiative.BenefitKind.CASH_TRANSFER,
        status=Application.Status.APPROVED,
        outcome=Application.Outcome.ISSUED,
        paid_at=None,
        amount__gt=0,
    ).filter(~_in_live_batch())
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
class PayableContribution:
    application: Application
    amount: Decimal
    iban: str = ""
    excluded_reason: str = ""


def payable_contributions(
    *, initiative: Initiative | None = None
) -> tuple[list[PayableContribution], list[PayableContribution]]:
    """The contributions a batch would pay now, and those it leaves out with the reason."""
    payable, excluded = [], []
    for application in contributions_awaiting_payment(initiative=initiative):
        iban, reason = iban_for_payment(application.iban)
        if reason:
            excluded.append(
                PayableContribution(application, application.amount, application.iban, reason)
            )
        else:
            payable.append(PayableContribution(application, application.amount, iban))
    return payable, excluded


def contribution_remittance(application: Application) -> str:
    """The transfer's reason on the beneficiary's statement (always Italian)."""
    return f"Contributo {application.initiative.title} {application.protocol_number}"


@payment_lines_paid_handler(PaymentBatch.Kind.BENEFICIARY_PAYMENTS)
def contributions_paid(line_ids: list[int]) -> None:
    """The applications whose contribution the bank paid record when (core posted the ledger)."""
    paid: dict[datetime, list[int]] = defaultdict(list)
    for start in range(0, len(line_ids), CHUNK):
        for application_id, paid_at in (
            PaymentLine.objects.filter(pk__in=line_ids[start : start + CHUNK])
            .exclude(application_ref=None)
            .exclude(paid_at=None)
            .values_list("application_ref", "paid_at")
        ):
            paid[paid_at].append(application_id)
    for paid_at, application_ids in paid.items():
        for start in range(0, len(application_ids), CHUNK):
            Application.objects.filter(
                pk__in=application_ids[start : start + CHUNK], paid_at=None
            ).update(paid_at=paid_at)


# --- What the beneficiary reads --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContributionStatus:
    code: str  # "to_pay", "in_payment" or "paid"
    label: str
    amount: Decimal
    iban_ending: str
    paid_at: datetime | None = None


def iban_ending(iban: str) -> str:
    """The last four characters of an IBAN, all a letter or a page should show of it."""
    compact = "".join((iban or "").split())
    return compact[-4:].upper()


def contribution_status(*, application: Application) -> ContributionStatus | None:
    """Where a granted cash contribution is: to pay, in a payment batch, or paid."""
    if (
        application.initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER
        or application.outcome != Application.Outcome.ISSUED
        or application.status != Application.Status.APPROVED
    ):
        return None
    if application.paid_at is not None:
        code, label = "paid", gettext("Pagato con bonifico")
    elif Application.objects.filter(pk=application.pk).filter(_in_live_batch()).exists():
        code, label = "in_payment", gettext("Bonifico disposto, in attesa della banca")
    else:
        code, label = "to_pay", gettext("Concesso, in attesa del bonifico")
    return ContributionStatus(
        code=code,
        label=label,
        amount=application.amount or ZERO,
        iban_ending=iban_ending(application.iban),
        paid_at=application.paid_at,
    )
