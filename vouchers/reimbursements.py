"""Reimbursement claims: receipts of expenses the beneficiary already paid."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.money import InvalidAmount, positive_euro
from core.uploads import checked_upload
from vouchers.models import (
    Application,
    Expense,
    Initiative,
    ReimbursementClaim,
    SpendingCategory,
)


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
    }


@dataclass(frozen=True, slots=True)
class ExpenseData:
    amount: str
    spent_on: date
    category: SpendingCategory
    receipt: object  # an uploaded file
    description: str = ""


def reimbursement_claim_submit(
    *, application: Application, expenses: list[ExpenseData], submitted_by=None
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
