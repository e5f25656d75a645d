"""Reimbursement claims: receipts, their review line by line, the decision, and their payment.

A beneficiary (in the app) or the desk (in the admin) submits a claim with its receipts.
Staff review each expense (approve, reduce or refuse with a reason), then close the review:
the call's cap cuts what exceeds the amount granted to the application, and the approved total
moves in the ledger from the call's budget to what the agency owes the person
(``beneficiary:<id>:payable``). Approved claims go out in a beneficiary payment batch, with
the cash grants of cash calls (``vouchers.services.beneficiary_payments``); when the bank
pays, the claim is paid and the payable becomes paid.
"""

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch, PaymentLine
from core.money import ZERO, InvalidAmount, format_euro, positive_euro
from core.selectors import money_sum
from core.services.ledger import Line, journal_post
from core.services.payment_ledger import beneficiary_payable_key, payment_lines_paid_handler
from core.uploads import checked_upload
from vouchers.models import (
    Application,
    Expense,
    Initiative,
    ReimbursementClaim,
    ReimbursementReview,
    SpendingCategory,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.budget import budget_line
from vouchers.services.ranking import application_amount

logger = logging.getLogger(__name__)


class ClaimError(DomainError):
    messages = {
        "not_a_reimbursement_call": _("Questo bando non prevede rimborsi."),
        "not_funded": _("La domanda non è ancora finanziata: il rimborso si chiede dopo l'esito."),
        "no_expenses": _("Aggiungi almeno una spesa con il suo scontrino."),
        "invalid_amount": _("Importo della spesa non valido: scrivi un importo maggiore di zero."),
        "expense_out_of_period": _(
            "La spesa del %(date)s è fuori dal periodo del bando (dal %(start)s al %(end)s)."
        ),
        "expense_in_future": _("La data della spesa non può essere nel futuro."),
        "category_not_allowed": _("La categoria «%(category)s» non è ammessa da questo bando."),
        "invalid_decision": _("Scegli se ammettere, ridurre o non ammettere la spesa."),
        "reason_required": _("Indica il motivo: chi ha chiesto il rimborso lo leggerà."),
        "approved_amount_invalid": _(
            "Importo ammesso non valido: scrivi un importo maggiore di zero e inferiore a "
            "quello della spesa (%(amount)s)."
        ),
        "claim_closed": _("La richiesta è «%(status)s»: il suo esame è già chiuso."),
        "expense_not_in_claim": _("Questa spesa non appartiene alla richiesta."),
        "four_eyes": _(
            "Non puoi esaminare una richiesta che hai inserito tu: serve un'altra persona."
        ),
        "expenses_pending": _("Restano %(count)s spese da esaminare: decidile prima di chiudere."),
        "insufficient_budget": _(
            "Il budget del bando non basta: servono %(needed)s, sono disponibili %(available)s."
        ),
        "nothing_to_pay": _(
            "Nessun rimborso approvato né contributo concesso da pagare con un IBAN valido."
        ),
        "not_a_municipality": _("Il trasferimento arriva da uno dei comuni del bando."),
        "transfer_amount_invalid": _("Importo non valido: scrivi un importo maggiore di zero."),
        "value_date_future": _("La data valuta non può essere nel futuro."),
        "duplicate_transfer": _(
            "Un trasferimento con il riferimento «%(reference)s» di questo comune è già registrato."
        ),
    }


@dataclass(frozen=True, slots=True)
class ExpenseData:
    amount: str
    spent_on: date
    category: SpendingCategory
    receipt: "UploadedFile[Any]"
    description: str = ""


def reimbursement_claim_submit(
    *, application: Application, expenses: list[ExpenseData], submitted_by: User | None = None
) -> ReimbursementClaim:
    """Receive a claim with its receipts; every line is checked before anything is kept."""
    initiative = application.initiative
    if initiative.benefit_kind != Initiative.BenefitKind.REIMBURSEMENT:
        raise ClaimError("not_a_reimbursement_call")
    if application.status != Application.Status.APPROVED or application.outcome not in (
        Application.Outcome.FUNDED,
        Application.Outcome.ISSUED,
    ):
        raise ClaimError("not_funded")
    if not expenses:
        raise ClaimError("no_expenses")
    allowed = set(initiative.allowed_categories.values_list("pk", flat=True))
    today = timezone.localdate()
    checked = []
    for expense in expenses:
        try:
            amount = positive_euro(expense.amount)
        except (InvalidAmount, TypeError) as exc:
            raise ClaimError("invalid_amount") from exc
        if expense.spent_on > today:
            raise ClaimError("expense_in_future")
        if not initiative.valid_from <= expense.spent_on <= initiative.valid_until:
            raise ClaimError(
                "expense_out_of_period",
                date=expense.spent_on.strftime("%d/%m/%Y"),
                start=initiative.valid_from.strftime("%d/%m/%Y"),
                end=initiative.valid_until.strftime("%d/%m/%Y"),
            )
        if allowed and expense.category.pk not in allowed:
            raise ClaimError("category_not_allowed", category=expense.category.name)
        checked.append((expense, amount, checked_upload(expense.receipt)))
    with transaction.atomic():
        claim = ReimbursementClaim.objects.create(
            initiative=initiative,
            beneficiary=application.applicant,
            application=application,
            submitted_by=submitted_by,
        )
        for expense, amount, content_type in checked:
            Expense.objects.create(
                claim=claim,
                amount=amount,
                spent_on=expense.spent_on,
                category=expense.category,
                description=expense.description[:200],
                receipt=expense.receipt,
                receipt_content_type=content_type,
            )
    return claim


DECIDED = (
    ReimbursementClaim.Status.APPROVED,
    ReimbursementClaim.Status.PARTLY_APPROVED,
    ReimbursementClaim.Status.PAID,
)


REVIEW_ACTIONS: dict[str, ReimbursementReview.Action] = {
    Expense.Status.APPROVED: ReimbursementReview.Action.APPROVE,
    Expense.Status.REDUCED: ReimbursementReview.Action.REDUCE,
    Expense.Status.REFUSED: ReimbursementReview.Action.REFUSE,
}


def _locked_claim(claim: ReimbursementClaim) -> ReimbursementClaim:
    return (
        ReimbursementClaim.objects.select_for_update(of=("self",))
        .select_related("initiative", "application", "beneficiary")
        .get(pk=claim.pk)
    )


def _guard_open(claim: ReimbursementClaim, by: User | None) -> None:
    if claim.status != ReimbursementClaim.Status.SUBMITTED:
        raise ClaimError("claim_closed", status=claim.get_status_display())
    if by is not None and claim.submitted_by_id is not None and by.pk == claim.submitted_by_id:
        raise ClaimError("four_eyes")


def expense_review(
    *,
    expense: Expense,
    decision: str,
    approved_amount: Decimal | str | None = None,
    reason: str = "",
    reviewed_by: User,
) -> Expense:
    """Approve an expense in full, reduce it, or refuse it; a reduction or refusal has a reason.

    A line can be reviewed again, with a new decision, until the claim's review is closed.
    """
    reason = (reason or "").strip()
    if decision not in REVIEW_ACTIONS:
        raise ClaimError("invalid_decision")
    if decision != Expense.Status.APPROVED and not reason:
        raise ClaimError("reason_required")
    with transaction.atomic():
        claim = _locked_claim(ReimbursementClaim(pk=expense.claim_id))
        _guard_open(claim, reviewed_by)
        expense = Expense.objects.select_for_update().get(pk=expense.pk)
        if decision == Expense.Status.APPROVED:
            amount, reason = expense.amount, ""
        elif decision == Expense.Status.REFUSED:
            amount = ZERO
        else:
            try:
                amount = positive_euro("" if approved_amount is None else approved_amount)
            except (InvalidAmount, TypeError) as exc:
                raise ClaimError(
                    "approved_amount_invalid", amount=format_euro(expense.amount)
                ) from exc
            if amount >= expense.amount:
                raise ClaimError("approved_amount_invalid", amount=format_euro(expense.amount))
        expense.status = decision
        expense.approved_amount = amount
        expense.refusal_reason = reason[:255]
        expense.save(update_fields=["status", "approved_amount", "refusal_reason"])
        ReimbursementReview.objects.create(
            claim=claim,
            expense=expense,
            action=REVIEW_ACTIONS[decision],
            amount=amount,
            reason=reason[:255],
            reviewed_by=reviewed_by,
        )
    return expense


def _granted(application: Application) -> Decimal:
    """The most a beneficiary can be paid back under the call: the amount granted to him.

    That is the amount the ranking computed from the call's amount rules and cap; before a
    ranking, the same rules computed today.
    """
    initiative = application.initiative
    granted = application.amount
    if granted is None:
        granted = application_amount(
            initiative=initiative, application=application, on=timezone.localdate()
        )
    if initiative.amount_cap is not None:
        granted = min(granted, initiative.amount_cap)
    return granted


def claim_cap_remaining(claim: ReimbursementClaim) -> Decimal:
    """What is still reimbursable to this application, besides this claim."""
    others = Expense.objects.filter(
        claim__application_id=claim.application_id, claim__status__in=DECIDED
    ).exclude(claim_id=claim.pk)
    already = money_sum(others, "approved_amount")
    return max(_granted(claim.application) - already, ZERO)


def _notify_outcome(claim: ReimbursementClaim, total: Decimal) -> None:
    email = claim.beneficiary.email
    if not email:
        return
    subject = gettext("Esito della richiesta di rimborso")
    body = gettext(
        "Gentile %(name)s,\nla sua richiesta di rimborso per «%(call)s» è stata esaminata: "
        "%(status)s, importo ammesso %(total)s. Il dettaglio di ogni spesa è nell'app."
    ) % {
        "name": claim.beneficiary.full_name,
        "call": claim.initiative.title,
        "status": claim.get_status_display(),
        "total": format_euro(total),
    }

    def send() -> None:
        try:
            send_mail(subject, body, None, [email])
        except OSError:
            logger.warning("Outcome of claim %s not sent to the beneficiary", claim.pk)

    transaction.on_commit(send)


def claim_decide(*, claim: ReimbursementClaim, decided_by: User) -> ReimbursementClaim:
    """Close the review of a claim whose lines are all reviewed, within the call's cap.

    What exceeds the amount still reimbursable to the application (granted by the call,
    less what its other claims were approved for) is cut from the last lines, each cut
    explained on its line. The approved total moves from the call's budget to the agency's
    debt to the beneficiary; the claim is approved, partly approved or rejected.
    """
    with transaction.atomic():
        claim = _locked_claim(claim)
        _guard_open(claim, decided_by)
        if decided_by is None:
            raise ClaimError("four_eyes")
        # Claims of one application are decided one at a time: the cap spans them all.
        Application.objects.select_for_update().filter(pk=claim.application_id).first()
        expenses = list(claim.expenses.select_for_update().order_by("spent_on", "pk"))
        pending = sum(1 for e in expenses if e.status == Expense.Status.PENDING)
        if pending:
            raise ClaimError("expenses_pending", count=pending)
        remaining = claim_cap_remaining(claim)
        cap_left = remaining
        now = timezone.now()
        for expense in expenses:
            amount = expense.approved_amount or ZERO
            if amount <= cap_left:
                cap_left -= amount
                continue
            explanation = gettext(
                "Ridotta al massimale del bando: restavano %(left)s da rimborsare."
            ) % {"left": format_euro(cap_left)}
            expense.approved_amount = cap_left
            expense.status = Expense.Status.REDUCED if cap_left > ZERO else Expense.Status.REFUSED
            expense.refusal_reason = "; ".join(
                part for part in [expense.refusal_reason, explanation] if part
            )[:255]
            expense.save(update_fields=["status", "approved_amount", "refusal_reason"])
            ReimbursementReview.objects.create(
                claim=claim,
                expense=expense,
                action=ReimbursementReview.Action.CAP,
                amount=cap_left,
                reason=explanation[:255],
                reviewed_by=decided_by,
                reviewed_at=now,
            )
            cap_left = ZERO
        total = sum((e.approved_amount or ZERO for e in expenses), ZERO)
        journal = None
        if total > ZERO:
            initiative = Initiative.objects.select_for_update().get(pk=claim.initiative_id)
            available = initiative_budget_available(initiative=initiative)
            if available < total:
                raise ClaimError(
                    "insufficient_budget",
                    needed=format_euro(total),
                    available=format_euro(available),
                )
            journal = journal_post(
                kind=Journal.Kind.REIMBURSEMENT_APPROVED,
                lines=[
                    budget_line(initiative=initiative, amount=-total),
                    Line(
                        beneficiary_payable_key(claim.beneficiary_id),
                        total,
                        Account.Kind.BENEFICIARY_PAYABLE,
                        f"Debito verso {claim.beneficiary.full_name}"[:200],
                    ),
                ],
                memo=f"Rimborso {claim.application.protocol_number} · richiesta {claim.pk}",
                created_by=decided_by,
            )
        if total == ZERO:
            claim.status = ReimbursementClaim.Status.REJECTED
        elif all(e.status == Expense.Status.APPROVED for e in expenses):
            claim.status = ReimbursementClaim.Status.APPROVED
        else:
            claim.status = ReimbursementClaim.Status.PARTLY_APPROVED
        claim.save(update_fields=["status"])
        ReimbursementReview.objects.create(
            claim=claim,
            action=ReimbursementReview.Action.DECIDE,
            amount=total,
            reason=claim.get_status_display(),
            reviewed_by=decided_by,
            reviewed_at=now,
            journal=journal,
        )
        _notify_outcome(claim, total)
    return claim


@payment_lines_paid_handler(PaymentBatch.Kind.BENEFICIARY_PAYMENTS)
def claims_paid(line_ids: list[int]) -> None:
    """The claims whose transfers the bank paid become paid (core posted the ledger)."""
    claim_ids = [
        claim_id
        for claim_id in PaymentLine.objects.filter(pk__in=line_ids)
        .exclude(claim_ref=None)
        .values_list("claim_ref", flat=True)
        if claim_id is not None  # excluded above, which the type checker cannot see
    ]
    for claim in ReimbursementClaim.objects.filter(
        pk__in=claim_ids,
        status__in=[ReimbursementClaim.Status.APPROVED, ReimbursementClaim.Status.PARTLY_APPROVED],
    ).order_by("pk"):
        claim.status = ReimbursementClaim.Status.PAID
        claim.save(update_fields=["status"])
