"""The reimbursement claim's shared pieces: the rows of expenses, each with its receipt.

The app (``pwa.forms.ClaimForm``) and the desk (``vouchers.admin.reimbursement_desk``) lay the
rows out with their own widgets and texts; when a row is complete and how the rows become
the ``ExpenseData`` of ``reimbursement_claim_submit`` are written here only.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from vouchers.services.reimbursements import ExpenseData

EXPENSE_FIELDS = ["amount", "spent_on", "category", "receipt", "description"]
# An expense counts once these are all filled in; a row with only some of them is an error.
EXPENSE_REQUIRED_FIELDS = EXPENSE_FIELDS[:4]


def expense_field(index: int, name: str) -> str:
    return f"expense_{index}_{name}"


class ExpenseRowsMixin:
    """Rows of expenses on a ``forms.Form``; empty rows are ignored."""

    expense_row_count: int

    def expense_rows(self) -> list[list]:
        return [
            [self[expense_field(index, name)] for name in EXPENSE_FIELDS]
            for index in range(self.expense_row_count)
        ]

    def filled_expense_rows(self, data: dict) -> list[dict]:
        """The rows filled in, as dictionaries; one filled in only in part is refused."""
        rows = []
        for index in range(self.expense_row_count):
            values = {name: data.get(expense_field(index, name)) for name in EXPENSE_FIELDS}
            required = [values[name] for name in EXPENSE_REQUIRED_FIELDS]
            if not any(required):
                continue
            if not all(required):
                raise forms.ValidationError(
                    _("Spesa %(n)s: servono importo, data, categoria e scontrino.")
                    % {"n": index + 1}
                )
            rows.append(values)
        return rows

    def expenses(self) -> list[ExpenseData]:
        return [
            ExpenseData(
                amount=row["amount"],
                spent_on=row["spent_on"],
                category=row["category"],
                receipt=row["receipt"],
                description=row["description"] or "",
            )
            for row in self.cleaned_data["rows"]
        ]
