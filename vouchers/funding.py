"""Funding sources of a call, and the attribution of every spent euro to its sources.

A call's budget comes in tranches (``InitiativeFunding``), each from a contribution or
from a fund as a whole. Redemptions, voids and approved reimbursements are attributed to
the tranches by the call's rule, out of the redemption's hot path: ``attribution_refresh``
reads the ledger (and the approved expenses) and writes ``FundingAttribution`` rows for
what is not attributed yet, so that a funder's report can say which shops, categories and
municipalities its money reached.

Shops belong to the ``merchants`` app, which builds on this one: their ids come from the
ledger's ``merchant_ref`` tags, and their names and categories are read through the app
registry, so that this module never imports ``merchants``.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from celery import shared_task
from django.apps import apps
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.days import OUT_OF_RANGE, day_in_range, start_of_day
from core.errors import DomainError
from core.models import Account, Contribution, Fund, Journal, Organization, Posting
from core.money import CENT, ZERO, InvalidAmount, format_euro, positive_euro
from core.selectors import fund_balance, money_sum
from core.services.funding import FundError
from core.services.ledger import fund_account_line, journal_post
from vouchers.models import (
    Expense,
    FundingAttribution,
    Initiative,
    InitiativeFunding,
    ReimbursementClaim,
    SpendingCategory,
    Voucher,
)
from vouchers.reports import category_of_shops
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


def _adopt_fund_assignments(*, initiative: Initiative) -> list[InitiativeFunding]:
    """Make a source of each budget moved to the call without one (``initiative_assign_budget``).

    Such budget comes from the call's fund as a whole, not from one contribution; adopting
    it keeps single-fund calls attributable, and it is safe to repeat.
    """
    budget_key = initiative.budget_account_key
    orphans = (
        Posting.objects.filter(
            account__key=budget_key,
            journal__kind=Journal.Kind.BUDGET_ASSIGNED,
            amount__gt=0,
        )
        .exclude(journal__in=InitiativeFunding.objects.values("journal"))
        .order_by("journal_id")
        .values_list("journal_id", "amount")
    )
    adopted = []
    orphans = list(orphans)
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
    assigned_by=None,
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
        _adopt_fund_assignments(initiative=initiative)
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

    def deficit(item):
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


# --- attribution ---------------------------------------------------------------------------

REIMBURSED_CLAIM_STATUSES = (
    ReimbursementClaim.Status.APPROVED,
    ReimbursementClaim.Status.PARTLY_APPROVED,
    ReimbursementClaim.Status.PAID,
)
REIMBURSED_EXPENSE_STATUSES = (Expense.Status.APPROVED, Expense.Status.REDUCED)


def reimbursed_expense_amounts(*, initiative: Initiative) -> dict[int, Decimal]:
    """The reimbursed amount of each expense of the call: approved ones, in approved claims.

    An approved expense counts for its approved amount (its full amount when none is
    written); any other expense, or one of a claim not approved, counts zero.
    """
    rows = Expense.objects.filter(
        claim__initiative=initiative,
        claim__status__in=REIMBURSED_CLAIM_STATUSES,
        status__in=REIMBURSED_EXPENSE_STATUSES,
    ).values_list("pk", "amount", "approved_amount")
    return {
        pk: (approved if approved is not None else amount)
        for pk, amount, approved in rows
        if (approved if approved is not None else amount) > ZERO
    }


def _shop_categories(merchant_ids: Iterable[int], allowed: set[int]) -> dict[int, int | None]:
    """The one category each shop is counted under, by the reports' rule."""
    merchant_ids = set(merchant_ids)
    if not merchant_ids or not apps.is_installed("merchants"):
        return {}
    return category_of_shops(merchant_ids=merchant_ids, allowed=allowed)


def shop_names(merchant_ids: Iterable[int]) -> dict[int, str]:
    merchant_ids = {pk for pk in merchant_ids if pk is not None}
    if not merchant_ids or not apps.is_installed("merchants"):
        return {}
    model = apps.get_model("merchants", "Merchant")
    return dict(model.objects.filter(pk__in=merchant_ids).values_list("pk", "name"))


@dataclass
class _Ledger:
    """The sources of a call and what each has been attributed, kept up to date in a run."""

    rule: str
    sources: list[tuple[int, Decimal]]
    attributed: dict[int, Decimal] = field(default_factory=dict)

    def split(self, amount: Decimal) -> dict[int, Decimal]:
        if self.rule == Initiative.AttributionRule.PRIORITY:
            parts = split_priority(amount, self.sources, self.attributed)
        else:
            parts = split_pro_rata(amount, self.sources, self.attributed)
        self.add(parts)
        return parts

    def add(self, parts: dict[int, Decimal]) -> None:
        for key, value in parts.items():
            self.attributed[key] = self.attributed.get(key, ZERO) + value


@dataclass(frozen=True, slots=True)
class AttributionReport:
    rows_written: int
    events: int


def _attributed_by_source(queryset: QuerySet) -> dict[int, Decimal]:
    return {
        source_id: (total or ZERO).quantize(CENT)
        for source_id, total in queryset.order_by()
        .values("source_id")
        .annotate(total=Sum("amount"))
        .values_list("source_id", "total")
    }


def attribution_refresh(*, initiative: Initiative) -> AttributionReport:
    """Attribute to the call's sources what was redeemed, voided or reimbursed since last time.

    Idempotent and incremental: a journal already attributed is skipped, and an expense
    is attributed again only when its reimbursed amount changed (its previous rows are
    reversed first). A void reverses exactly the rows of the redemption it cancels.
    """
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        _adopt_fund_assignments(initiative=initiative)
        sources = list(
            InitiativeFunding.objects.filter(initiative=initiative)
            .order_by("priority", "id")
            .values_list("pk", "amount")
        )
        if not sources:
            return AttributionReport(rows_written=0, events=0)
        existing = FundingAttribution.objects.filter(initiative=initiative)
        ledger = _Ledger(
            rule=initiative.attribution_rule,
            sources=sources,
            attributed=_attributed_by_source(existing),
        )
        rows: list[FundingAttribution] = []
        events = _attribute_redemptions(initiative, ledger, rows)
        events += _attribute_reimbursements(initiative, ledger, rows)
        FundingAttribution.objects.bulk_create(rows, batch_size=2000)
    return AttributionReport(rows_written=len(rows), events=events)


def _attribute_redemptions(
    initiative: Initiative, ledger: _Ledger, rows: list[FundingAttribution]
) -> int:
    attributed = FundingAttribution.objects.filter(
        initiative=initiative, journal_id=OuterRef("journal_id")
    )
    postings = list(
        Posting.objects.filter(
            account__key=initiative.outstanding_account_key,
            journal__kind__in=[Journal.Kind.REDEMPTION, Journal.Kind.REDEMPTION_VOID],
        )
        .filter(~Exists(attributed))
        .order_by("journal_id", "id")
        .values_list("journal_id", "journal__kind", "voucher_ref", "amount")
    )
    if not postings:
        return 0
    journal_ids = [journal_id for journal_id, *_rest in postings]
    shops = dict(
        Posting.objects.filter(journal_id__in=journal_ids, merchant_ref__isnull=False)
        .order_by()
        .values_list("journal_id", "merchant_ref")
    )
    towns = dict(
        Voucher.objects.filter(pk__in={voucher for _j, _k, voucher, _a in postings}).values_list(
            "pk", "beneficiary__municipality_id"
        )
    )
    allowed = set(initiative.allowed_categories.values_list("pk", flat=True))
    categories = _shop_categories(shops.values(), allowed)
    # The redemptions a void may cancel: same voucher, shop and amount, not yet cancelled.
    open_redemptions: dict[tuple, list[tuple[int, dict[int, Decimal]]]] = defaultdict(list)
    void_vouchers = {
        voucher for _j, kind, voucher, _a in postings if kind != Journal.Kind.REDEMPTION
    }
    if void_vouchers:
        _load_open_redemptions(initiative, void_vouchers, open_redemptions)
    for journal_id, kind, voucher_id, posting_amount in postings:
        merchant_id = shops.get(journal_id)
        context = {
            "initiative": initiative,
            "journal_id": journal_id,
            "voucher_id": voucher_id,
            "merchant_ref": merchant_id,
            "municipality_id": towns.get(voucher_id),
            "category_id": categories.get(merchant_id),
        }
        key = (voucher_id, merchant_id, abs(posting_amount))
        if kind == Journal.Kind.REDEMPTION:
            parts = ledger.split(-posting_amount)
            open_redemptions[key].append((journal_id, parts))
            rows.extend(
                FundingAttribution(source_id=source_id, kind=kind, amount=value, **context)
                for source_id, value in parts.items()
            )
            continue
        candidates = [item for item in open_redemptions[key] if item[0] < journal_id]
        if candidates:
            cancelled_journal, cancelled_parts = candidates[-1]
            open_redemptions[key].remove(candidates[-1])
            parts = {source_id: -value for source_id, value in cancelled_parts.items()}
            ledger.add(parts)
        else:  # a void without its redemption on record: give the amount back by the rule
            cancelled_journal = None
            parts = ledger.split(-posting_amount)
        rows.extend(
            FundingAttribution(
                source_id=source_id,
                kind=kind,
                amount=value,
                reverses_id=cancelled_journal,
                **context,
            )
            for source_id, value in parts.items()
        )
    return len(postings)


def _load_open_redemptions(initiative: Initiative, voucher_ids: set, open_redemptions) -> None:
    cancelled = FundingAttribution.objects.filter(
        initiative=initiative, kind=FundingAttribution.Kind.REDEMPTION_VOID, reverses__isnull=False
    ).values("reverses_id")
    parts_by_journal: dict[int, dict[int, Decimal]] = defaultdict(dict)
    heads: dict[int, tuple] = {}
    for journal_id, voucher_id, merchant_id, source_id, amount in (
        FundingAttribution.objects.filter(
            initiative=initiative,
            kind=FundingAttribution.Kind.REDEMPTION,
            voucher_id__in=voucher_ids,
        )
        .exclude(journal_id__in=cancelled)
        .order_by("journal_id", "source_id")
        .values_list("journal_id", "voucher_id", "merchant_ref", "source_id", "amount")
    ):
        parts_by_journal[journal_id][source_id] = amount
        heads[journal_id] = (voucher_id, merchant_id)
    for journal_id in sorted(parts_by_journal):
        voucher_id, merchant_id = heads[journal_id]
        parts = parts_by_journal[journal_id]
        total = sum(parts.values(), ZERO)
        open_redemptions[(voucher_id, merchant_id, total)].append((journal_id, parts))


def _attribute_reimbursements(
    initiative: Initiative, ledger: _Ledger, rows: list[FundingAttribution]
) -> int:
    wanted = reimbursed_expense_amounts(initiative=initiative)
    done: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for expense_id, source_id, total in (
        FundingAttribution.objects.filter(
            initiative=initiative, kind=FundingAttribution.Kind.REIMBURSEMENT
        )
        .order_by()
        .values("expense_id", "source_id")
        .annotate(total=Sum("amount"))
        .values_list("expense_id", "source_id", "total")
    ):
        total = (total or ZERO).quantize(CENT)
        if total:
            done[expense_id][source_id] = total
    changed = sorted(
        expense_id
        for expense_id in set(wanted) | set(done)
        if wanted.get(expense_id, ZERO) != sum(done[expense_id].values(), ZERO)
    )
    if not changed:
        return 0
    details = {
        pk: (town, category)
        for pk, town, category in Expense.objects.filter(pk__in=changed).values_list(
            "pk", "claim__beneficiary__municipality_id", "category_id"
        )
    }
    for expense_id in changed:
        town, category = details[expense_id]
        context = {
            "initiative": initiative,
            "kind": FundingAttribution.Kind.REIMBURSEMENT,
            "expense_id": expense_id,
            "municipality_id": town,
            "category_id": category,
        }
        previous = {source_id: -value for source_id, value in done[expense_id].items()}
        if previous:
            ledger.add(previous)
            rows.extend(
                FundingAttribution(source_id=source_id, amount=value, **context)
                for source_id, value in previous.items()
            )
        amount = wanted.get(expense_id, ZERO)
        if amount:
            rows.extend(
                FundingAttribution(source_id=source_id, amount=value, **context)
                for source_id, value in ledger.split(amount).items()
            )
    return len(changed)


def attribution_refresh_all() -> int:
    """Refresh the attribution of every call with a budget; return the rows written."""
    written = 0
    budgeted = Posting.objects.filter(journal__kind=Journal.Kind.BUDGET_ASSIGNED).values_list(
        "account__key", flat=True
    )
    keys = {key for key in budgeted.distinct() if key.startswith("initiative:")}
    ids = sorted(int(key.split(":")[1]) for key in keys)
    for initiative in Initiative.objects.filter(pk__in=ids).order_by("pk"):
        written += attribution_refresh(initiative=initiative).rows_written
    return written


@shared_task
def attribute_funding() -> int:
    """Periodic task: attribute the spending of every call to its sources."""
    return attribution_refresh_all()


@shared_task
def attribute_initiative_funding(initiative_id: int) -> int:
    """Attribute one call's new spending, for example after a reimbursement is approved.

    Queue it with ``transaction.on_commit`` once the approval is saved.
    """
    return attribution_refresh(initiative=Initiative(pk=initiative_id)).rows_written


# --- reports -------------------------------------------------------------------------------

GROUPS = {
    "merchant": gettext_lazy("Negozio"),
    "category": gettext_lazy("Categoria"),
    "municipality": gettext_lazy("Comune"),
    "initiative": gettext_lazy("Bando"),
}
_GROUP_FIELDS = {
    "merchant": "merchant_ref",
    "category": "category_id",
    "municipality": "municipality_id",
    "initiative": "initiative_id",
}


@dataclass(frozen=True, slots=True)
class ReachRow:
    initiative_id: int
    initiative: str
    key: int | None
    label: str
    amount: Decimal
    count: int


def _funder_attributions(
    *,
    funder: Organization | None,
    contribution: Contribution | None,
    initiative,
    within,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[FundingAttribution]:
    rows = FundingAttribution.objects.all()
    # A movement belongs to the day it was booked: a sale to its day, a void to the void's.
    if since is not None:
        rows = rows.filter(journal__created_at__gte=start_of_day(since))
    if until is not None:
        rows = rows.filter(journal__created_at__lt=start_of_day(until + timedelta(days=1)))
    if within is not None:
        rows = rows.filter(source__contribution__in=within)
    if funder is not None:
        rows = rows.filter(source__contribution__funder=funder)
    if contribution is not None:
        rows = rows.filter(source__contribution=contribution)
    if initiative is not None:
        rows = rows.filter(initiative=initiative)
    return rows


def funder_initiatives(
    *,
    funder: Organization | None = None,
    contribution: Contribution | None = None,
    within: QuerySet[Contribution] | None = None,
) -> QuerySet[Initiative]:
    """The calls that a funder's (or one contribution's) money went to."""
    sources = InitiativeFunding.objects.all()
    if within is not None:
        sources = sources.filter(contribution__in=within)
    if funder is not None:
        sources = sources.filter(contribution__funder=funder)
    if contribution is not None:
        sources = sources.filter(contribution=contribution)
    return Initiative.objects.filter(pk__in=sources.values("initiative_id")).order_by("pk")


def funder_reach(
    *,
    funder: Organization | None,
    initiative: Initiative | None = None,
    group_by: str = "merchant",
    contribution: Contribution | None = None,
    within: QuerySet[Contribution] | None = None,
    since: date | None = None,
    until: date | None = None,
    refresh: bool = False,
) -> list[ReachRow]:
    """Where a funder's money went, per call: amount and count per shop, category or town.

    Amounts are net of voids; counts are redemptions (less those voided) and reimbursed
    expenses. Reimbursements have no shop. Under "category" a shop counts under one
    category, chosen now by the staff reports' rule (``vouchers.reports.category_of_shops``),
    so that the categories add up and agree with ``call_report``. Only money from the
    funder's contributions counts (budget assigned from a fund as a whole belongs to no
    funder in particular).
    ``within`` limits the report to those contributions (what the reader may see);
    ``since`` and ``until`` (both included, either may be left out) to the money moved on
    those days, in Europe/Rome: a sale on the day it was made, a void on the day it was
    voided, so a sale in one period voided in the next counts in the first and is taken back
    in the second, as the ledger books it. ``refresh`` attributes what is new first.
    """
    if group_by not in _GROUP_FIELDS:
        raise FundingError("invalid_group")
    if since is not None and until is not None and since > until:
        raise FundingError("invalid_period")
    if any(day is not None and not day_in_range(day) for day in (since, until)):
        raise FundingError("period_out_of_range")
    if refresh:
        calls = (
            [initiative]
            if initiative is not None
            else funder_initiatives(funder=funder, contribution=contribution, within=within)
        )
        for call in calls:
            attribution_refresh(initiative=call)
    key_field = _GROUP_FIELDS[group_by]
    # By category, a shop's money is placed by the shop's category as the reports read it
    # today, not by the one written when it was attributed.
    shop_field = ["merchant_ref"] if group_by == "category" else []
    aggregated = (
        _funder_attributions(
            funder=funder,
            contribution=contribution,
            initiative=initiative,
            within=within,
            since=since,
            until=until,
        )
        .order_by()
        .values("initiative_id", key_field, *shop_field)
        .annotate(
            total=Sum("amount"),
            redemptions=Count(
                "journal", distinct=True, filter=Q(kind=FundingAttribution.Kind.REDEMPTION)
            ),
            voids=Count(
                "reverses", distinct=True, filter=Q(kind=FundingAttribution.Kind.REDEMPTION_VOID)
            ),
            expenses=Count(
                "expense",
                distinct=True,
                filter=Q(kind=FundingAttribution.Kind.REIMBURSEMENT, amount__gt=0),
            ),
        )
    )
    aggregated = list(aggregated)
    if group_by == "category":
        aggregated = _by_shop_category(aggregated)
    titles = dict(
        Initiative.objects.filter(pk__in={row["initiative_id"] for row in aggregated}).values_list(
            "pk", "title"
        )
    )
    labels = _labels(group_by, {row[key_field] for row in aggregated}, titles)
    result = []
    for row in aggregated:
        amount = (row["total"] or ZERO).quantize(CENT)
        count = row["redemptions"] - row["voids"] + row["expenses"]
        if not amount and not count:
            continue
        key = row[key_field]
        result.append(
            ReachRow(
                initiative_id=row["initiative_id"],
                initiative=titles.get(row["initiative_id"], ""),
                key=key,
                label=labels.get(key, "—"),
                amount=amount,
                count=count,
            )
        )
    result.sort(key=lambda row: (row.initiative_id, -row.amount, row.label))
    return result


def _by_shop_category(rows: list[dict]) -> list[dict]:
    """Merge rows grouped by call, category and shop into rows by call and category, each
    shop under the category the reports count it under (an expense keeps its own)."""
    shops: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        if row["merchant_ref"] is not None:
            shops[row["initiative_id"]].add(row["merchant_ref"])
    allowed: dict[int, set[int]] = defaultdict(set)
    for initiative_id, category_id in Initiative.allowed_categories.through.objects.filter(
        initiative_id__in=shops
    ).values_list("initiative_id", "spendingcategory_id"):
        allowed[initiative_id].add(category_id)
    category_of = {
        initiative_id: _shop_categories(merchant_ids, allowed[initiative_id])
        for initiative_id, merchant_ids in shops.items()
    }
    merged: dict[tuple, dict] = {}
    for row in rows:
        shop = row.pop("merchant_ref")
        if shop is not None:
            row["category_id"] = category_of[row["initiative_id"]].get(shop)
        key = (row["initiative_id"], row["category_id"])
        row["total"] = (row["total"] or ZERO).quantize(CENT)
        if key not in merged:
            merged[key] = row
            continue
        for name in ("total", "redemptions", "voids", "expenses"):
            merged[key][name] += row[name]
    return list(merged.values())


def _labels(group_by: str, keys: set, titles: dict[int, str]) -> dict:
    if group_by == "merchant":
        labels = shop_names(keys)
        labels[None] = _("Rimborsi ai beneficiari")
        return labels
    if group_by == "category":
        labels = dict(SpendingCategory.objects.filter(pk__in=keys).values_list("pk", "name"))
        labels[None] = _("Senza categoria")
        return labels
    if group_by == "municipality":
        return dict(Organization.objects.filter(pk__in=keys).values_list("pk", "name"))
    return dict(titles)


def attribution_totals(*, initiative: Initiative) -> dict[str, Decimal]:
    """What the call spent (net redeemed, reimbursed) and what is attributed: they agree."""
    redeemed = -money_sum(
        Posting.objects.filter(
            account__key=initiative.outstanding_account_key,
            journal__kind__in=[Journal.Kind.REDEMPTION, Journal.Kind.REDEMPTION_VOID],
        )
    )
    reimbursed = sum(reimbursed_expense_amounts(initiative=initiative).values(), ZERO)
    attributed = money_sum(FundingAttribution.objects.filter(initiative=initiative))
    return {"redeemed": redeemed, "reimbursed": reimbursed, "attributed": attributed}
