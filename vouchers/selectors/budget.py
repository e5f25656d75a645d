"""A call's budget and its waiting list."""

from decimal import Decimal

from core.money import ZERO
from core.selectors import account_balance, money_sum
from vouchers.models import (
    Application,
    Expense,
    Initiative,
    ReimbursementClaim,
    WaitingListFunding,
)


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
