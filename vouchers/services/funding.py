"""Funding sources of a call: budget assigned from a contribution or a fund, and the rules
that split a spent amount among the sources.

A call's budget comes in tranches (``InitiativeFunding``), each from a contribution or from
a fund as a whole. What the call spends is attributed to the tranches by the call's rule
(``split_pro_rata``, ``split_priority``) out of the redemption's hot path, by
``reports.attribution``.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_lazy

from core.days import OUT_OF_RANGE
from core.errors import DomainError
from core.models import Account, Contribution, Fund, Journal, Posting
from core.money import CENT, ZERO, InvalidAmount, format_euro, positive_euro
from core.selectors import fund_balance, money_sum
from core.services.funding import FundError
from core.services.ledger import fund_account_line, journal_post
from vouchers.models import FundingAttribution, Initiative, InitiativeFunding
from vouchers.services.budget import budget_line


class FundingError(DomainError):
    messages = {
        "invalid_amount": gettext_lazy(
            "Importo non valido: scrivi un importo in euro maggiore di zero."
        ),
        "contribution_exhausted": gettext_lazy(
            "Il contributo ha ancora %(available)s da assegnare: importo troppo alto."
        ),
        "initiative_archived": gettext_lazy("Il bando è archiviato: non riceve altro budget."),
        "invalid_rule": gettext_lazy("Regola di attribuzione sconosciuta."),
        "rule_locked": gettext_lazy(
            "La spesa del bando è già attribuita alle fonti: la regola non si cambia più."
        ),
        "invalid_group": gettext_lazy("Raggruppamento sconosciuto."),
        "invalid_period": gettext_lazy("Il periodo finisce prima di cominciare."),
        "period_out_of_range": OUT_OF_RANGE,
    }


# --- assigning budget from a source ------------------------------------------------------


def contribution_unassigned(*, contribution: Contribution) -> Decimal:
    """What of a contribution is not yet assigned to any call."""
    return contribution.amount - money_sum(
        InitiativeFunding.objects.filter(contribution=contribution)
    )


def adopt_fund_assignments(*, initiative: Initiative) -> list[InitiativeFunding]:
    """Make a source of each budget moved to the call without one (``initiative_assign_budget``).

    Such budget comes from the call's fund as a whole, not from one contribution; adopting
    it keeps single-fund calls attributable, and it is safe to repeat.
    """
    budget_key = initiative.budget_account_key
    orphans: list[tuple[int, Decimal]] = list(
        Posting.objects.filter(
            account__key=budget_key,
            journal__kind=Journal.Kind.BUDGET_ASSIGNED,
            amount__gt=0,
        )
        .exclude(journal__in=InitiativeFunding.objects.values("journal"))
        .order_by("journal_id")
        .values_list("journal_id", "amount")
    )
    adopted: list[InitiativeFunding] = []
    if not orphans:
        return adopted
    fund_keys = dict(
        Posting.objects.filter(
            journal_id__in=[journal_id for journal_id, _amount in orphans],
            account__kind=Account.Kind.FUND,
        ).values_list("journal_id", "account__key")
    )
    priority = _next_priority(initiative)
    for journal_id, amount in orphans:
        key = fund_keys.get(journal_id, f"fund:{initiative.fund_id}")
        adopted.append(
            InitiativeFunding.objects.create(
                initiative=initiative,
                fund_id=int(key.split(":")[1]),
                contribution=None,
                amount=amount,
                priority=priority,
                journal_id=journal_id,
            )
        )
        priority += 1
    return adopted


def _next_priority(initiative: Initiative) -> int:
    last = (
        InitiativeFunding.objects.filter(initiative=initiative)
        .order_by("-priority")
        .values_list("priority", flat=True)
        .first()
    )
    return (last or 0) + 1


def initiative_funding_assign(
    *,
    initiative: Initiative,
    amount: Decimal | str,
    contribution: Contribution | None = None,
    fund: Fund | None = None,
    priority: int | None = None,
    assigned_by: User | None = None,
) -> InitiativeFunding:
    """Move money from a contribution's fund (or a fund) to the call's budget, as a source.

    Without a contribution the money comes from ``fund`` (the call's fund by default) as a
    whole, which is what ``initiative_assign_budget`` does.
    """
    try:
        amount = positive_euro(amount)
    except (InvalidAmount, TypeError) as exc:
        raise FundingError("invalid_amount") from exc
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        if initiative.status == Initiative.Status.ARCHIVED:
            raise FundingError("initiative_archived")
        if contribution is not None:
            contribution = Contribution.objects.select_for_update().get(pk=contribution.pk)
            fund_id = contribution.fund_id
        else:
            fund_id = fund.pk if fund is not None else initiative.fund_id
        locked_fund = Fund.objects.select_for_update().get(pk=fund_id)
        if contribution is not None:
            available = contribution_unassigned(contribution=contribution)
            if available < amount:
                raise FundingError("contribution_exhausted", available=format_euro(available))
        if fund_balance(fund_id=locked_fund.pk) < amount:
            raise FundError("insufficient_fund")
        adopt_fund_assignments(initiative=initiative)
        journal = journal_post(
            kind=Journal.Kind.BUDGET_ASSIGNED,
            lines=[
                fund_account_line(fund=locked_fund, amount=-amount),
                budget_line(initiative=initiative, amount=amount),
            ],
            memo=f"Budget → {initiative.title}"
            + (f" · {contribution.funder.name}" if contribution is not None else ""),
            created_by=assigned_by,
        )
        return InitiativeFunding.objects.create(
            initiative=initiative,
            fund=locked_fund,
            contribution=contribution,
            amount=amount,
            priority=priority if priority is not None else _next_priority(initiative),
            journal=journal,
            assigned_by=assigned_by,
        )


def initiative_set_attribution_rule(*, initiative: Initiative, rule: str) -> Initiative:
    """Choose how the call's spending is split among its sources, before any is attributed."""
    if rule not in Initiative.AttributionRule.values:
        raise FundingError("invalid_rule")
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        if initiative.attribution_rule == rule:
            return initiative
        if FundingAttribution.objects.filter(initiative=initiative).exists():
            raise FundingError("rule_locked")
        initiative.attribution_rule = rule
        initiative.save(update_fields=["attribution_rule"])
    return initiative


# --- splitting an amount among sources ---------------------------------------------------


def _cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


def split_pro_rata(
    amount: Decimal, sources: Sequence[tuple[int, Decimal]], attributed: dict[int, Decimal]
) -> dict[int, Decimal]:
    """Split ``amount`` by the sources' shares ``(id, amount)``; the cents add up exactly.

    Largest remainder: each source gets the whole cents of its share, and the cents left
    go to the sources furthest below their exact share of everything attributed so far
    (ties: in the sources' order), so that rounding does not pile up on one source.
    """
    if amount < ZERO:
        return {key: -value for key, value in split_pro_rata(-amount, sources, attributed).items()}
    cents = _cents(amount)
    shares = [(key, _cents(share)) for key, share in sources]
    whole = sum(share for _key, share in shares)
    before = sum(_cents(attributed.get(key, ZERO)) for key, _share in shares)
    base = {key: cents * share // whole for key, share in shares}
    left = cents - sum(base.values())

    def deficit(item: tuple[int, tuple[int, int]]) -> tuple[int, int]:
        position, (key, share) = item
        # Exact target minus what the source would have, both times ``whole``: integers.
        gap = (before + cents) * share - (_cents(attributed.get(key, ZERO)) + base[key]) * whole
        return (-gap, position)

    for _position, (key, _share) in sorted(enumerate(shares), key=deficit)[:left]:
        base[key] += 1
    return {key: Decimal(value) * CENT for key, value in base.items() if value}


def split_priority(
    amount: Decimal, sources: Sequence[tuple[int, Decimal]], attributed: dict[int, Decimal]
) -> dict[int, Decimal]:
    """Take ``amount`` from the sources in order, each up to what it still has.

    A negative amount (money given back) returns to the last sources used first. What
    exceeds every source (it cannot, when the budget came only from sources) stays on
    the last one, so the split still adds up.
    """
    result: dict[int, Decimal] = {}
    if amount >= ZERO:
        left = amount
        for key, share in sources:
            room = max(share - attributed.get(key, ZERO), ZERO)
            take = min(room, left)
            if take:
                result[key] = take
                left -= take
            if not left:
                break
        if left:
            last = sources[-1][0]
            result[last] = result.get(last, ZERO) + left
        return result
    left = -amount
    for key, _share in reversed(sources):
        take = min(max(attributed.get(key, ZERO), ZERO), left)
        if take:
            result[key] = -take
            left -= take
        if not left:
            break
    if left:
        first = sources[0][0]
        result[first] = result.get(first, ZERO) - left
    return result
