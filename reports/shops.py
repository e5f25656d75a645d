"""The one category each shop is counted under, and shop names: the rule that the staff
reports, the funders' report and the dashboard share, so that their categories agree."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from merchants.models import Merchant, Redemption
from vouchers.models import Initiative


def _counted_category(categories: list[tuple[int, str]], allowed: set[int]) -> int | None:
    """Of a shop's (id, name) categories, the one it is counted under: the first by name of
    those allowed, else the first by name of its own; None when it has none."""
    if not categories:
        return None
    return min((category_id not in allowed, name, category_id) for category_id, name in categories)[
        2
    ]


def _categories_of(merchant_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    through = Merchant.categories.through
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for merchant_id, category_id, name in through.objects.filter(
        merchant_id__in=merchant_ids
    ).values_list("merchant_id", "spendingcategory_id", "spendingcategory__name"):
        found[merchant_id].append((category_id, name))
    return found


def category_of_shops(
    *, merchant_ids: Iterable[int], allowed: Iterable[int]
) -> dict[int, int | None]:
    """The one category each shop is counted under, so that the categories add up.

    A shop may sell in several categories; it counts under the first, by name, of those
    ``allowed`` (the calls' categories), or of its own when it has none of them; a shop with
    no category counts under none (None). The funders' report (``reports.attribution``) and the
    dashboard follow the same rule, so all give the same figures per category.
    """
    if not isinstance(merchant_ids, QuerySet):  # a queryset stays a subquery
        merchant_ids = list(merchant_ids)
    allowed = set(allowed)
    categories = _categories_of(merchant_ids)
    return {
        merchant_id: _counted_category(categories.get(merchant_id, []), allowed)
        for merchant_id in merchant_ids
    }


def category_of_shops_per_initiative(
    *, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, str] | None]:
    """``category_of_shops`` for (call, shop) pairs, each call with its own allowed
    categories, as (id, name): two queries however many calls."""
    pairs = list(pairs)
    categories = _categories_of({merchant_id for _call, merchant_id in pairs})
    names = {category_id: name for found in categories.values() for category_id, name in found}
    allowed: dict[int, set[int]] = defaultdict(set)
    for initiative_id, category_id in Initiative.allowed_categories.through.objects.filter(
        initiative_id__in={call for call, _shop in pairs}
    ).values_list("initiative_id", "spendingcategory_id"):
        allowed[initiative_id].add(category_id)
    chosen = {
        (call, shop): _counted_category(categories.get(shop, []), allowed[call])
        for call, shop in pairs
    }
    return {
        pair: (category_id, names[category_id]) if category_id is not None else None
        for pair, category_id in chosen.items()
    }


def shop_categories(*, initiative_ids: Iterable[int]) -> dict[int, int | None]:
    """The one category each shop that took vouchers of these calls is counted under
    (``category_of_shops``, with the categories the calls allow)."""
    initiative_ids = list(initiative_ids)
    shops = (
        Redemption.objects.filter(voucher__initiative_id__in=initiative_ids)
        .order_by()
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    allowed = Initiative.allowed_categories.through.objects.filter(
        initiative_id__in=initiative_ids
    ).values_list("spendingcategory_id", flat=True)
    return category_of_shops(merchant_ids=shops, allowed=allowed)


def shop_names(merchant_ids: Iterable[int]) -> dict[int, str]:
    merchant_ids = {pk for pk in merchant_ids if pk is not None}
    if not merchant_ids:
        return {}
    return dict(Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "name"))
