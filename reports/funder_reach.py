"""Where a funder's money went: the attributed spending of the calls it financed, by shop,
category, municipality or call, read from ``FundingAttribution`` (``reports.attribution``).

Shops' ids come from the ledger's ``merchant_ref`` tags; their names and categories from
``reports.shops``.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.days import day_in_range, start_of_day
from core.models import Contribution, Journal, Organization, Posting
from core.money import CENT, ZERO
from core.selectors import money_sum
from reports.attribution import attribution_refresh, reimbursed_expense_amounts
from reports.shops import category_of_shops, shop_names
from vouchers.models import FundingAttribution, Initiative, InitiativeFunding, SpendingCategory
from vouchers.services.funding import FundingError

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
    initiative: Initiative | None,
    within: QuerySet[Contribution] | None,
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
    category, chosen now by the staff reports' rule (``reports.shops.category_of_shops``),
    so that the categories add up and agree with ``initiative_report``. Only money from the
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


def _by_shop_category(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
        initiative_id: category_of_shops(merchant_ids=merchant_ids, allowed=allowed[initiative_id])
        for initiative_id, merchant_ids in shops.items()
    }
    merged: dict[tuple[int, int | None], dict[str, Any]] = {}
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


# The keys are the grouped field's values: an id, or None for what has none.
def _labels(group_by: str, keys: set[Any], titles: dict[int, str]) -> dict[Any, str]:
    if group_by == "merchant":
        labels: dict[Any, str] = shop_names(keys)
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
