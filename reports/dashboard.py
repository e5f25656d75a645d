"""The figures of the admin's home page, scoped to what a staff user may count.

A fixed handful of aggregate queries, whatever the size of the tables: applications,
decisions, vouchers and redemptions are each read once, grouped by call and municipality,
and every table and card is built from those rows. Staff see their municipalities' figures
(the agency all of them); a funder sees the calls his contributions paid for, as totals
only: no person, no shop.

At the scale of a large city those aggregates take seconds, so their result is kept in the
cache for a few minutes per scope (the users who see the same rows share it), computed ahead
by a periodic task for the agency and each municipality: the page (``reports.admin.dashboard``)
says when the figures were computed and offers to compute them again.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Model,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.days import start_of_day
from core.models import Organization, Role
from core.money import ZERO
from core.roles import AnyUser
from merchants.models import Merchant, Redemption, RefusedAttempt
from merchants.selectors import initiative_redemption_figures
from reports.shops import category_of_shops_per_initiative
from vouchers.models import Application, Decision, Voucher
from vouchers.selectors.scope import (
    StaffScope,
    applications_for,
    initiative_voucher_figures,
    initiatives_financed_for,
    vouchers_for,
)

CHART_DAYS = 30
TABLE_ROWS = 12
TOP_SHOPS = 5
# How long a scope's figures are reused before they are computed again; the periodic task
# (reports.tasks.refresh_dashboard_figures) computes the common scopes every five minutes.
FIGURES_SECONDS = 10 * 60
# The query parameter that asks for the figures computed now.
REFRESH_PARAMETER = "aggiorna"


# --- what the user may count -------------------------------------------------------------


@dataclass
class DashboardScope:
    """The rows the dashboard adds up; ``None`` means every row (the agency)."""

    funder_only: bool
    applications: QuerySet[Application] | None
    vouchers: QuerySet[Voucher] | None
    merchants: QuerySet[Merchant] | None

    def within[M: Model](
        self, queryset: QuerySet[M], lookup: str, scoped: QuerySet[Any] | None
    ) -> QuerySet[M]:
        return queryset if scoped is None else queryset.filter(**{f"{lookup}__in": scoped})


def dashboard_scope(*, user: AnyUser, staff: StaffScope) -> DashboardScope:
    """The rows a staff user's dashboard adds up, from his scope (``staff_scope``)."""
    if staff.everything:
        return DashboardScope(funder_only=False, applications=None, vouchers=None, merchants=None)
    if staff.figures_only:
        # A funder or a fund manager: the calls his money finances, as totals only.
        funded = initiatives_financed_for(scope=staff)
        return DashboardScope(
            funder_only=True,
            applications=Application.objects.filter(initiative__in=funded),
            vouchers=Voucher.objects.filter(initiative__in=funded),
            merchants=Merchant.objects.none(),
        )
    # The shops serving his municipalities, as the shops' list shows them.
    merchants = Merchant.objects.filter(
        pk__in=Merchant.municipalities.through.objects.filter(
            organization_id__in=staff.municipality_ids
        ).values("merchant_id")
    )
    return DashboardScope(
        funder_only=False,
        applications=applications_for(user=user, scope=staff),
        vouchers=vouchers_for(user=user, scope=staff),
        merchants=merchants,
    )


# Versioned: figures kept by an earlier release, shaped differently, are not read back.
FIGURES_KEY = "dashboard:figures:v2"


def figures_cache_key(scope: StaffScope) -> str:
    """The cache key of the figures of a scope: equal for users who see the same rows."""
    if scope.everything:
        return f"{FIGURES_KEY}:all"
    if scope.figures_only:
        return f"{FIGURES_KEY}:funder:{scope.user_id}"
    towns = ",".join(str(pk) for pk in sorted(scope.municipality_ids))
    sees_towns = int(bool(scope.roles - {Role.TUTOR}))
    # A tutor's own cases depend on who he is.
    tutor = scope.user_id if Role.TUTOR in scope.roles else ""
    return f"{FIGURES_KEY}:staff:{sees_towns}:{towns}:{tutor}"


# --- the figures, one query each ---------------------------------------------------------

# A grouped row of the aggregates: field or aggregate name to value.
Row = Mapping[str, Any]


def application_rows(scope: DashboardScope) -> list[Row]:
    """Applications by call, municipality and status, with the amounts allocated."""
    applications = scope.applications if scope.applications is not None else Application.objects
    return list(
        applications.order_by()
        .values(
            "initiative_id",
            "initiative__title",
            "initiative__status",
            "municipality_id",
            "municipality__name",
            "status",
        )
        .annotate(
            count=Count("pk"),
            allocated=Sum(
                "amount",
                filter=Q(outcome__in=[Application.Outcome.FUNDED, Application.Outcome.ISSUED]),
            ),
        )
    )


def decision_rows(scope: DashboardScope) -> list[Row]:
    """How long applications waited for their decision, by call and municipality."""
    decisions = scope.within(
        Decision.objects.filter(action__in=[Decision.Action.APPROVE, Decision.Action.REJECT]),
        "application",
        scope.applications,
    )
    waited = ExpressionWrapper(
        F("decided_at") - F("application__submitted_at"), output_field=DurationField()
    )
    return list(
        decisions.order_by()
        .values("application__initiative_id", "application__municipality_id")
        .annotate(count=Count("pk"), waited=Avg(waited))
    )


def voucher_rows(scope: DashboardScope) -> list[Row]:
    """Vouchers by call, municipality of the holder and status: how many, issued, left."""
    vouchers = scope.vouchers if scope.vouchers is not None else Voucher.objects
    return list(
        vouchers.order_by()
        .values(
            "initiative_id",
            "initiative__title",
            "initiative__status",
            "beneficiary__municipality_id",
            "beneficiary__municipality__name",
            "status",
        )
        .annotate(count=Count("pk"), issued=Sum("face_value"), balance=Sum("balance"))
    )


def _confirmed_redemptions(scope: DashboardScope) -> QuerySet[Redemption]:
    return scope.within(
        Redemption.objects.filter(status=Redemption.Status.CONFIRMED), "voucher", scope.vouchers
    )


def redemption_rows(scope: DashboardScope) -> list[Row]:
    """Money spent, by call, municipality of the holder, status of the voucher and shop:
    one scan of the redemptions serves the tables, the top shops and the categories."""
    return list(
        _confirmed_redemptions(scope)
        .order_by()
        .values(
            "voucher__initiative_id",
            "voucher__beneficiary__municipality_id",
            "voucher__status",
            "merchant_id",
            "merchant__name",
        )
        .annotate(total=Sum("amount"), count=Count("pk"))
    )


def redemptions_per_day(scope: DashboardScope, *, days: int = CHART_DAYS) -> list[Row]:
    """Confirmed redemptions of the last ``days`` days (today included), one row per day."""
    today = timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    found = {
        row["day"]: row
        for row in _confirmed_redemptions(scope)
        .filter(created_at__gte=start_of_day(first_day))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"), total=Sum("amount"))
        .order_by("day")
    }
    rows: list[Row] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        row: Row = found.get(day, {})
        rows.append({"day": day, "count": row.get("count", 0), "total": row.get("total") or ZERO})
    return rows


def top_shops(redemptions: list[Row]) -> list[Row]:
    """The shops that took the most, from ``redemption_rows``."""
    totals: dict[int, list[Any]] = defaultdict(lambda: [ZERO, 0])
    names: dict[int, str] = {}
    for row in redemptions:
        shop = totals[row["merchant_id"]]
        shop[0] += row["total"] or ZERO
        shop[1] += row["count"]
        names[row["merchant_id"]] = row["merchant__name"]
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], names[item[0]]))
    return [
        {"merchant_id": pk, "merchant__name": names[pk], "total": total, "count": count}
        for pk, (total, count) in ranked[:TOP_SHOPS]
    ]


def spending_per_category(redemptions: list[Row]) -> list[Row]:
    """Spending by category, from ``redemption_rows``, the rows adding up to what was spent:
    in each call a shop counts under one category, by the staff reports' rule
    (``category_of_shops``)."""
    by_pair: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for row in redemptions:
        by_pair[(row["voucher__initiative_id"], row["merchant_id"])] += row["total"] or ZERO
    chosen = category_of_shops_per_initiative(pairs=list(by_pair))
    # Shops with no category under None, named in the reader's language when shown (the
    # figures are kept in the cache for everybody).
    totals: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
    for pair, amount in by_pair.items():
        category = chosen[pair]
        totals[category[1] if category is not None else None] += amount
    return [
        {"name": name, "total": total}
        for name, total in sorted(totals.items(), key=lambda item: (-item[1], item[0] or ""))
    ]


def merchant_figures(scope: DashboardScope) -> dict[str, Any]:
    merchants = scope.merchants if scope.merchants is not None else Merchant.objects
    return merchants.aggregate(
        accredited=Count("id", filter=Q(status=Merchant.Status.ACCREDITED)),
        requested=Count("id", filter=Q(status=Merchant.Status.REQUESTED)),
    )


def refused_today(scope: DashboardScope) -> int:
    attempts = RefusedAttempt.objects.filter(created_at__gte=start_of_day(timezone.localdate()))
    if scope.merchants is not None:
        attempts = attempts.filter(merchant__in=scope.merchants)
    return attempts.count()


# --- putting the rows together -----------------------------------------------------------


class Totals:
    """The figures of one call, one municipality or everything."""

    def __init__(self) -> None:
        self.title = ""
        self.status = ""
        self.applications: dict[str, int] = defaultdict(int)
        self.allocated = ZERO
        self.vouchers = 0
        self.active = 0
        self.issued = ZERO
        self.outstanding = ZERO
        self.expired_face = ZERO
        self.redeemed = ZERO
        self.redemptions = 0
        self.redeemed_on_expired = ZERO
        self.decisions = 0
        self.waited = timedelta()

    @property
    def expired(self) -> Decimal:
        """What expired vouchers gave back unspent: their value less what they paid."""
        return self.expired_face - self.redeemed_on_expired

    @property
    def applications_total(self) -> int:
        return sum(self.applications.values())

    @property
    def average_days(self) -> float | None:
        if not self.decisions:
            return None
        return self.waited.total_seconds() / self.decisions / 86400


def aggregate(
    applications: list[Row],
    decisions: list[Row],
    vouchers: list[Row],
    redemptions: list[Row],
) -> dict[str, Any]:
    """Add the grouped rows up by call, by municipality and overall."""
    by_initiative: dict[int, Totals] = defaultdict(Totals)
    by_town: dict[int, Totals] = defaultdict(Totals)
    overall = Totals()
    for row in applications:
        for totals in (
            by_initiative[row["initiative_id"]],
            by_town[row["municipality_id"]],
            overall,
        ):
            totals.applications[row["status"]] += row["count"]
            totals.allocated += row["allocated"] or ZERO
        by_initiative[row["initiative_id"]].title = row["initiative__title"]
        by_initiative[row["initiative_id"]].status = row["initiative__status"]
        by_town[row["municipality_id"]].title = row["municipality__name"]
    for row in decisions:
        waited = row["waited"] or timedelta()
        for totals in (
            by_initiative[row["application__initiative_id"]],
            by_town[row["application__municipality_id"]],
            overall,
        ):
            totals.decisions += row["count"]
            totals.waited += waited * row["count"]
    for row in vouchers:
        town = row["beneficiary__municipality_id"]
        for totals in (by_initiative[row["initiative_id"]], by_town[town], overall):
            totals.vouchers += row["count"]
            totals.issued += row["issued"] or ZERO
            if row["status"] == Voucher.Status.ACTIVE:
                totals.active += row["count"]
                totals.outstanding += row["balance"] or ZERO
            if row["status"] == Voucher.Status.EXPIRED:
                totals.expired_face += row["issued"] or ZERO
        by_initiative[row["initiative_id"]].title = row["initiative__title"]
        by_initiative[row["initiative_id"]].status = row["initiative__status"]
        by_town[town].title = row["beneficiary__municipality__name"]
    for row in redemptions:
        town = row["voucher__beneficiary__municipality_id"]
        for totals in (by_initiative[row["voucher__initiative_id"]], by_town[town], overall):
            totals.redeemed += row["total"] or ZERO
            totals.redemptions += row["count"]
            if row["voucher__status"] == Voucher.Status.EXPIRED:
                totals.redeemed_on_expired += row["total"] or ZERO
    return {"by_initiative": dict(by_initiative), "by_town": dict(by_town), "overall": overall}


def compute_figures(scope: DashboardScope) -> dict[str, Any]:
    """Every aggregate of the page that reads the big tables, computed now."""
    redemptions = redemption_rows(scope)
    return {
        "figures": aggregate(
            application_rows(scope),
            decision_rows(scope),
            voucher_rows(scope),
            redemptions,
        ),
        "top_shops": [] if scope.funder_only else top_shops(redemptions),
        "categories": spending_per_category(redemptions),
        "days": redemptions_per_day(scope),
        "computed_at": timezone.now(),
    }


def scope_figures(
    staff: StaffScope, scope: DashboardScope, *, refresh: bool = False
) -> dict[str, Any]:
    """The figures of the user's scope, from the cache unless missing, old or ``refresh``."""
    key = figures_cache_key(staff)
    found = None if refresh else cache.get(key)
    # The chart ends today: figures computed yesterday are computed again.
    if found is None or timezone.localdate(found["computed_at"]) != timezone.localdate():
        found = compute_figures(scope)
        cache.set(key, found, FIGURES_SECONDS)
    return found


def dashboard_scopes_refresh() -> int:
    """Compute the figures of the agency and of each municipality's staff; return how many
    scopes were computed."""
    scopes = [
        StaffScope(user_id=None, everything=True, roles=frozenset(), municipality_ids=frozenset())
    ]
    for town in Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY).order_by("pk"):
        scopes.append(
            StaffScope(
                user_id=None,
                everything=False,
                roles=frozenset({Role.DESK_OPERATOR}),
                municipality_ids=frozenset({town.pk}),
            )
        )
    for staff in scopes:
        if staff.everything:
            scope = DashboardScope(
                funder_only=False, applications=None, vouchers=None, merchants=None
            )
        else:
            scope = DashboardScope(
                funder_only=False,
                # With a scope given, neither reads the user: these scopes have none.
                applications=applications_for(user=None, scope=staff),  # type: ignore[arg-type]
                vouchers=vouchers_for(user=None, scope=staff),  # type: ignore[arg-type]
                merchants=None,  # the shops' figures are read on each view, not kept
            )
        cache.set(figures_cache_key(staff), compute_figures(scope), FIGURES_SECONDS)
    return len(scopes)


def dashboard_figures_refresh() -> int:
    """Compute the figures of the agency, of each municipality's staff and of the calls list.

    Run every few minutes, so that the first to open the page after the figures expire does
    not wait for them. Returns how many scopes were computed.
    """
    computed = dashboard_scopes_refresh()
    # The calls list's figures too.
    initiative_voucher_figures(refresh=True)
    initiative_redemption_figures(refresh=True)
    return computed
