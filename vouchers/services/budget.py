"""Money into a call's budget, and the ledger lines of a call's budget and vouchers."""

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from core.models import Account, Fund, Journal
from core.money import positive_euro
from core.selectors import fund_balance
from core.services.funding import FundError
from core.services.ledger import Line, fund_account_line, journal_post
from vouchers.models import Initiative


def budget_line(*, initiative: Initiative, amount: Decimal) -> Line:
    return Line(
        initiative.budget_account_key,
        amount,
        Account.Kind.INITIATIVE_BUDGET,
        f"Budget: {initiative.title}"[:200],
    )


def outstanding_line(*, initiative_id: int, voucher_id: int, amount: Decimal) -> Line:
    return Line(
        f"initiative:{initiative_id}:outstanding",
        amount,
        Account.Kind.VOUCHERS_OUTSTANDING,
        f"Buoni in circolazione del bando {initiative_id}",
        voucher_ref=voucher_id,
    )


def initiative_assign_budget(
    *, initiative: Initiative, amount: Decimal | str, assigned_by: User | None = None
) -> Journal:
    """Move money from the call's fund to its budget."""
    amount = positive_euro(amount)
    with transaction.atomic():
        fund = Fund.objects.select_for_update().get(pk=initiative.fund_id)
        if fund_balance(fund_id=fund.pk) < amount:
            raise FundError("insufficient_fund")
        return journal_post(
            kind=Journal.Kind.BUDGET_ASSIGNED,
            lines=[
                fund_account_line(fund=fund, amount=-amount),
                budget_line(initiative=initiative, amount=amount),
            ],
            memo=f"Budget → {initiative.title}",
            created_by=assigned_by,
        )
