"""Cash grants («contributo economico» on screens): granted when a call issues, paid by transfer.

Issuing a cash call moves each funded application's amount, in the ledger, from the call's
budget to what the agency owes the person (``beneficiary:<id>:payable``, the account an
approved reimbursement uses too) and marks the application issued. The grant then goes out in
a beneficiary payment batch (``vouchers.services.beneficiary_payments``), one transfer per
application to the IBAN of the application; when the bank pays it, core moves the payable to
paid and the application records when it was paid. An application withdrawn before its
transfer is in a batch gives its grant back to the call's budget.

Named ``cash_grant…`` in code so as not to be confused with a funder's contribution to a fund
(``core.models.Contribution``).
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch, PaymentLine
from core.money import ZERO, format_euro
from core.services.ledger import Line, journal_post
from core.services.payment_ledger import CHUNK, beneficiary_payable_key, payment_lines_paid_handler
from vouchers.models import Application, Beneficiary, Initiative
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.payments import in_live_payment_batch
from vouchers.services.budget import budget_line


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


def cash_grants_award(
    *,
    initiative: Initiative,
    applications: list[tuple[int, int, Decimal | None]],
    granted_by: User | None = None,
) -> int:
    """Grant the cash of funded applications ``(id, applicant id, amount)``.

    Called inside its caller's transaction, with the call's row and the applications locked:
    refuses what the budget cannot cover, then moves the total, in one journal, from the
    budget to what the agency owes each person. Returns how many grants it made.
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


def cash_grant_cancel(
    *, application: Application, cancelled_by: User | None = None
) -> Journal | None:
    """Give a withdrawn application's cash grant back to the call's budget.

    Called inside the withdrawal's transaction, with the application locked. A grant
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
        or Application.objects.filter(pk=application.pk).filter(in_live_payment_batch()).exists()
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


@payment_lines_paid_handler(PaymentBatch.Kind.BENEFICIARY_PAYMENTS)
def cash_grants_paid(line_ids: list[int]) -> None:
    """The applications whose cash grant the bank paid record when (core posted the ledger)."""
    paid: dict[datetime, list[int]] = defaultdict(list)
    for start in range(0, len(line_ids), CHUNK):
        for application_id, paid_at in (
            PaymentLine.objects.filter(pk__in=line_ids[start : start + CHUNK])
            .exclude(application_ref=None)
            .exclude(paid_at=None)
            .values_list("application_ref", "paid_at")
        ):
            if application_id is not None and paid_at is not None:  # both excluded above
                paid[paid_at].append(application_id)
    for paid_at, application_ids in paid.items():
        for start in range(0, len(application_ids), CHUNK):
            Application.objects.filter(
                pk__in=application_ids[start : start + CHUNK], paid_at=None
            ).update(paid_at=paid_at)
