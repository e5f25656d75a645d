"""Reports (rendicontazione): what a call allocated, issued, spent, returned, settled and paid.

Read only. Every figure is one aggregate query grouped in the database, whatever the size of
the tables; Python only labels and sorts the grouped rows. Where each figure comes from, and
the date that places it in a period and in a week (Europe/Rome):

- allocated: the budget assigned to the call (ledger, ``budget_assigned`` journals);
- issued: the face value of the call's vouchers, by issue date;
- redeemed: confirmed redemptions (a voided one is not counted), by redemption date;
- expired, revoked: the residual the ledger returned to the call's budget when a voucher
  expired or was revoked, by the date of that journal;
- settled: confirmed redemptions in a settlement, by the settlement's date;
- paid: settled redemptions whose credit transfer is paid, by payment date;
- reimbursements approved, contributions granted: what the ledger moved from the call's
  budget to what the agency owes each person (``beneficiary:<id>:payable``) when a claim was
  approved or a cash call issued (less the contributions given back), by the journal's date;
- reimbursements paid, contributions paid: the beneficiary transfers of the call's claims and
  cash contributions that the bank paid and whose ledger entry (payable to paid) is posted,
  by payment date. The same transfers are the "paid" of the municipalities' reconciliation.

Over the same period, issued = redeemed + expired + revoked + what the vouchers still hold,
and every dimension adds up to the call's total (a shop counts under one category, see
``shop_categories``). Counts of people are distinct, so they do not add up across rows.

Redemptions and settlements belong to ``merchants``, which builds on this app: their models
are looked up through the app registry so that ``vouchers`` never imports ``merchants``.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db import models
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import (
    Account,
    Contribution,
    Journal,
    Membership,
    Organization,
    PaymentLine,
    Posting,
    Role,
)
from core.money import CENT, ZERO
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    InitiativeFunding,
    ReimbursementClaim,
    SpendingCategory,
    Voucher,
)
from vouchers.selectors import StaffScope, initiatives_for, initiatives_of_managed_funds

ROME = ZoneInfo("Europe/Rome")
# Below this many people a public figure is not shown (nor the amounts that go with it).
PUBLIC_MIN_PEOPLE = 10


class Dimension(models.TextChoices):
    CALL = "call", _("Bando")
    MUNICIPALITY = "municipality", _("Comune")
    SHOP = "shop", _("Negozio")
    CATEGORY = "category", _("Categoria")
    WEEK = "week", _("Settimana")
    FUNDER = "funder", _("Finanziatore")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: Any
    money: bool


COLUMNS = {
    column.key: column
    for column in (
        Column("allocated", _("Assegnato"), True),
        Column("issued", _("Emesso"), True),
        Column("vouchers", _("Buoni emessi"), False),
        Column("beneficiaries", _("Beneficiari"), False),
        Column("redeemed", _("Speso"), True),
        Column("redemptions", _("Utilizzi"), False),
        Column("spenders", _("Persone che hanno speso"), False),
        Column("shops", _("Negozi"), False),
        Column("expired", _("Residuo scaduto"), True),
        Column("revoked", _("Residuo revocato"), True),
        Column("settled", _("Liquidato"), True),
        Column("paid", _("Pagato"), True),
        Column("reimbursements_approved", _("Rimborsi approvati"), True),
        Column("reimbursements_paid", _("Rimborsi pagati"), True),
        Column("contributions_granted", _("Contributi concessi"), True),
        Column("contributions_paid", _("Contributi pagati"), True),
        Column("funder_assigned", _("Quota del finanziatore"), True),
        Column("funder_spent", _("Speso con i suoi fondi"), True),
    )
}
_CALL_COLUMNS = [
    "allocated",
    "issued",
    "vouchers",
    "beneficiaries",
    "redeemed",
    "redemptions",
    "expired",
    "revoked",
    "settled",
    "paid",
]
DIMENSION_COLUMNS: dict[str, list[str]] = {
    Dimension.CALL: _CALL_COLUMNS,
    Dimension.FUNDER: ["funder_assigned", "funder_spent", *_CALL_COLUMNS],
    Dimension.MUNICIPALITY: [
        "issued",
        "vouchers",
        "beneficiaries",
        "redeemed",
        "redemptions",
        "expired",
        "revoked",
        "settled",
        "paid",
    ],
    Dimension.SHOP: ["redeemed", "redemptions", "spenders", "settled", "paid"],
    Dimension.CATEGORY: ["redeemed", "redemptions", "spenders", "shops", "settled", "paid"],
    Dimension.WEEK: [
        "issued",
        "vouchers",
        "redeemed",
        "redemptions",
        "expired",
        "revoked",
        "settled",
        "paid",
    ],
}
# What a call pays by transfer instead of vouchers, by its benefit kind.
TRANSFER_COLUMNS = {
    Initiative.BenefitKind.REIMBURSEMENT: ["reimbursements_approved", "reimbursements_paid"],
    Initiative.BenefitKind.CASH_TRANSFER: ["contributions_granted", "contributions_paid"],
}
VOUCHER_KINDS = {Initiative.BenefitKind.VOUCHER_CARD, Initiative.BenefitKind.FIXED_BUONI}
# The columns of a call paid by transfer, by dimension (a shop or a category takes no part).
TRANSFER_DIMENSIONS = {Dimension.CALL, Dimension.FUNDER, Dimension.MUNICIPALITY, Dimension.WEEK}
# Columns whose totals are sums of the rows (the others count distinct people or shops).
ADDITIVE = {"allocated", "issued", "vouchers", "redeemed", "redemptions"} | {
    "expired",
    "revoked",
    "settled",
    "paid",
    "reimbursements_approved",
    "reimbursements_paid",
    "contributions_granted",
    "contributions_paid",
}


def report_columns(dimension: str, benefit_kinds: Iterable[str]) -> list[str]:
    """The columns of a report by ``dimension`` of calls of these benefit kinds.

    A call paid by transfer (reimbursements, cash contributions) has no voucher figures:
    its columns are what it approved or granted and what the bank paid.
    """
    kinds = set(benefit_kinds)
    base = DIMENSION_COLUMNS[dimension]
    if dimension not in TRANSFER_DIMENSIONS or not kinds - VOUCHER_KINDS:
        return list(base)
    keep = {"allocated", "funder_assigned", "funder_spent"}
    columns = base if kinds & VOUCHER_KINDS else [key for key in base if key in keep]
    extra = [key for kind, keys in TRANSFER_COLUMNS.items() if kind in kinds for key in keys]
    return [*columns, *extra]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days from ``start`` to ``end`` included; either end may be open."""

    start: date | None = None
    end: date | None = None

    def lookups(self, path: str) -> dict[str, datetime]:
        """Filters that keep the rows whose date-time at ``path`` falls in the period."""
        bounds = {}
        if self.start is not None:
            bounds[f"{path}__gte"] = datetime.combine(self.start, time.min, tzinfo=ROME)
        if self.end is not None:
            bounds[f"{path}__lt"] = datetime.combine(
                self.end + timedelta(days=1), time.min, tzinfo=ROME
            )
        return bounds


@dataclass
class ReportRow:
    key: Any
    label: str
    figures: dict[str, Decimal | int | None]


@dataclass
class Report:
    title: str
    subject: str
    dimension: str
    period: Period
    columns: list[Column]
    rows: list[ReportRow]
    totals: dict[str, Decimal | int | None]
    generated_at: datetime = field(default_factory=timezone.now)
    note: str = ""


def _model(name: str) -> type[models.Model]:
    return apps.get_model("merchants", name)


def _cents(value) -> Decimal:
    # SQLite adds decimals as floats: round every sum back to whole cents.
    return ZERO if value is None else Decimal(value).quantize(CENT)


def week_start(value: datetime | date) -> date:
    """The Monday of the ISO week of a date or (Rome) date-time."""
    if isinstance(value, datetime):
        value = timezone.localtime(value, ROME).date() if timezone.is_aware(value) else value.date()
    return value - timedelta(days=value.weekday())


def week_label(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    return f"{year}-W{week:02d} ({monday:%d/%m} – {sunday:%d/%m/%Y})"


def _week(path: str) -> TruncWeek:
    return TruncWeek(path, tzinfo=ROME)


# --- who may see which call ------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """The calls and funders a staff user may report on, and whose people he may count.

    ``municipality_ids`` is None when the user may count every beneficiary of a call; a
    municipal user counts only his municipalities' residents, even in a joint call.
    """

    initiatives: QuerySet[Initiative]
    funders: QuerySet[Organization]
    municipality_ids: frozenset[int] | None
    shops_visible: bool
    allowed: bool = True


def funders_of(*, user_id: int) -> QuerySet[Organization]:
    return Organization.objects.filter(
        pk__in=Membership.objects.filter(user_id=user_id, role=Role.FUNDER).values(
            "organization_id"
        )
    )


def calls_financed_by(*, funder_ids: Iterable[int] | QuerySet) -> QuerySet[Initiative]:
    """Calls paid from a fund these funders contributed to."""
    return Initiative.objects.filter(
        fund__in=Contribution.objects.filter(funder__in=funder_ids).values("fund_id")
    )


def report_scope(*, user, scope: StaffScope) -> ReportScope:
    """What a staff user may report on: the agency everything, a municipality its calls
    (its residents only), a fund manager his funds' calls, a funder the calls he financed
    (totals only: no list of shops)."""
    contributors = Organization.objects.filter(
        pk__in=Contribution.objects.values("funder_id")
    ).order_by("name")
    if scope.everything:
        return ReportScope(Initiative.objects.all(), contributors, None, True)
    staff_roles = scope.roles - {Role.TUTOR, Role.FUNDER}
    if scope.municipality_ids and staff_roles:
        # A tutor's view of every call does not widen a municipal user's reports.
        municipal = StaffScope(
            user_id=scope.user_id,
            everything=False,
            roles=frozenset(staff_roles),
            municipality_ids=scope.municipality_ids,
        )
        return ReportScope(
            initiatives_for(user=user, scope=municipal),
            Organization.objects.none(),
            scope.municipality_ids,
            True,
        )
    if Role.FUND_MANAGER in scope.roles:
        return ReportScope(
            initiatives_of_managed_funds(user_id=scope.user_id),
            Organization.objects.none(),
            None,
            True,
        )
    if Role.FUNDER in scope.roles:
        funders = funders_of(user_id=scope.user_id)
        return ReportScope(calls_financed_by(funder_ids=funders), funders, None, False)
    return ReportScope(
        Initiative.objects.none(), Organization.objects.none(), frozenset(), False, allowed=False
    )


# --- the figures ---------------------------------------------------------------------------------


def _grouped(queryset: QuerySet, key, aggregates: dict) -> dict[Any, dict]:
    """Aggregate ``queryset`` by ``key`` (an expression; None: one total row, key None)."""
    queryset = queryset.order_by()
    if key is None:
        return {None: queryset.aggregate(**aggregates)}
    # A constant key (every shop without a category) adds no GROUP BY: the database then
    # aggregates the whole queryset into one row even when it is empty. Count the rows
    # behind each group and keep only the groups that have some.
    rows = (
        queryset.annotate(report_key=key)
        .values("report_key")
        .annotate(report_rows=Count("pk"), **aggregates)
    )
    return {row.pop("report_key"): row for row in rows if row.pop("report_rows")}


def _counted_category(categories: list[tuple[int, str]], allowed: set[int]) -> int | None:
    """Of a shop's (id, name) categories, the one it is counted under: the first by name of
    those allowed, else the first by name of its own; None when it has none."""
    if not categories:
        return None
    return min((category_id not in allowed, name, category_id) for category_id, name in categories)[
        2
    ]


def _categories_of(merchant_ids) -> dict[int, list[tuple[int, str]]]:
    through = _model("Merchant").categories.through
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
    no category counts under none (None). The funders' report (``vouchers.funding``) and the
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


def category_of_shops_per_call(
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
        _model("Redemption")
        .objects.filter(voucher__initiative_id__in=initiative_ids)
        .order_by()
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    allowed = Initiative.allowed_categories.through.objects.filter(
        initiative_id__in=initiative_ids
    ).values_list("spendingcategory_id", flat=True)
    return category_of_shops(merchant_ids=shops, allowed=allowed)


def _category_key(categories: dict[int, int | None]):
    by_category: dict[int, list[int]] = defaultdict(list)
    for shop, category in categories.items():
        if category is not None:
            by_category[category].append(shop)
    if not by_category:
        return Value(None, output_field=IntegerField())
    return Case(
        *(
            When(merchant_id__in=shops, then=Value(category))
            for category, shops in sorted(by_category.items())
        ),
        default=Value(None),
        output_field=IntegerField(),
    )


def beneficiary_transfers_paid(
    *,
    initiative_ids: Iterable[int],
    benefit_kind: str,
    municipality_ids: Iterable[int] | None = None,
    period: Period | None = None,
) -> QuerySet[PaymentLine]:
    """The transfers paying the calls' reimbursement claims (or, for ``CASH_TRANSFER``, their
    cash contributions) that the bank paid and whose ledger entry (payable to paid) is posted;
    of the applicants of ``municipality_ids`` only, when given."""
    lines = PaymentLine.objects.filter(
        paid_at__isnull=False, journal__isnull=False, **(period or Period()).lookups("paid_at")
    )
    if benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        claims = ReimbursementClaim.objects.filter(initiative_id__in=initiative_ids)
        if municipality_ids is not None:
            claims = claims.filter(application__municipality_id__in=municipality_ids)
        return lines.filter(claim_ref__in=claims.values("pk"))
    applications = Application.objects.filter(
        initiative_id__in=initiative_ids,
        initiative__benefit_kind=Initiative.BenefitKind.CASH_TRANSFER,
    )
    if municipality_ids is not None:
        applications = applications.filter(municipality_id__in=municipality_ids)
    return lines.filter(application_ref__in=applications.values("pk"))


class _Sources:
    """The querysets each figure is read from, for some calls, a period and a scope."""

    def __init__(
        self,
        *,
        initiative_ids: list[int],
        period: Period,
        municipality_ids: frozenset[int] | None,
    ):
        self.initiative_ids = initiative_ids
        self.period = period
        self.municipality_ids = municipality_ids
        self._categories: dict[int, int | None] | None = None

    @property
    def categories(self) -> dict[int, int | None]:
        if self._categories is None:
            self._categories = shop_categories(initiative_ids=self.initiative_ids)
        return self._categories

    def vouchers(self) -> QuerySet:
        vouchers = Voucher.objects.filter(
            initiative_id__in=self.initiative_ids, **self.period.lookups("issued_at")
        )
        if self.municipality_ids is not None:
            vouchers = vouchers.filter(beneficiary__municipality_id__in=self.municipality_ids)
        return vouchers

    def redemptions(self, date_path: str = "created_at") -> QuerySet:
        redemptions = _model("Redemption").objects.filter(
            voucher__initiative_id__in=self.initiative_ids,
            status="confirmed",
            **self.period.lookups(date_path),
        )
        if self.municipality_ids is not None:
            redemptions = redemptions.filter(
                voucher__beneficiary__municipality_id__in=self.municipality_ids
            )
        return redemptions

    def returned(self, journal_kind: str) -> QuerySet:
        """Residuals moved from the vouchers back to the budget, as positive amounts."""
        postings = Posting.objects.filter(
            account__key__in=[f"initiative:{pk}:outstanding" for pk in self.initiative_ids],
            journal__kind=journal_kind,
            **self.period.lookups("journal__created_at"),
        )
        if self.municipality_ids is not None:
            postings = postings.filter(
                voucher_ref__in=Voucher.objects.filter(
                    initiative_id__in=self.initiative_ids,
                    beneficiary__municipality_id__in=self.municipality_ids,
                ).values("pk")
            )
        return postings

    def granted(self, journal_kinds: list[str]) -> QuerySet:
        """What the ledger moved from the calls' budgets to what the agency owes people, in
        journals of these kinds: the postings on each person's payable account."""
        postings = Posting.objects.filter(
            account__kind=Account.Kind.BENEFICIARY_PAYABLE,
            journal__kind__in=journal_kinds,
            journal_id__in=Posting.objects.filter(
                account__key__in=[f"initiative:{pk}:budget" for pk in self.initiative_ids]
            ).values("journal_id"),
            **self.period.lookups("journal__created_at"),
        )
        if self.municipality_ids is not None:
            postings = postings.filter(
                account__key__in=Beneficiary.objects.filter(
                    municipality_id__in=self.municipality_ids
                )
                .annotate(
                    payable_key=Concat(
                        Value("beneficiary:"),
                        Cast("pk", CharField()),
                        Value(":payable"),
                        output_field=CharField(),
                    )
                )
                .values("payable_key")
            )
        return postings

    def transfers_paid(self, benefit_kind: str) -> QuerySet:
        return beneficiary_transfers_paid(
            initiative_ids=self.initiative_ids,
            benefit_kind=benefit_kind,
            municipality_ids=self.municipality_ids,
            period=self.period,
        )

    def allocated(self) -> QuerySet:
        return Posting.objects.filter(
            account__key__in=[f"initiative:{pk}:budget" for pk in self.initiative_ids],
            account__kind=Account.Kind.INITIATIVE_BUDGET,
            journal__kind=Journal.Kind.BUDGET_ASSIGNED,
            **self.period.lookups("journal__created_at"),
        )

    # The expression each source is grouped by, for a dimension (None: one total).

    def voucher_key(self, dimension: str | None):
        return {
            None: None,
            Dimension.CALL: F("initiative_id"),
            Dimension.MUNICIPALITY: F("beneficiary__municipality_id"),
            Dimension.WEEK: _week("issued_at"),
        }[dimension]

    def redemption_key(self, dimension: str | None, date_path: str):
        if dimension == Dimension.CATEGORY:
            return _category_key(self.categories)
        return {
            None: None,
            Dimension.CALL: F("voucher__initiative_id"),
            Dimension.MUNICIPALITY: F("voucher__beneficiary__municipality_id"),
            Dimension.SHOP: F("merchant_id"),
            Dimension.WEEK: _week(date_path),
        }[dimension]

    def posting_key(self, dimension: str | None, *, kind: str):
        if dimension == Dimension.CALL:
            # The call's id is in its account's key: initiative:<id>:<kind>.
            return F("account__key")
        if dimension == Dimension.MUNICIPALITY:
            return Subquery(
                Voucher.objects.filter(pk=OuterRef("voucher_ref")).values(
                    "beneficiary__municipality_id"
                )[:1],
                output_field=IntegerField(),
            )
        return {None: None, Dimension.WEEK: _week("journal__created_at")}[dimension]


def _account_call(key: str) -> int:
    return int(key.split(":")[1])


def _granted_key(dimension: str | None):
    if dimension in (Dimension.CALL, Dimension.FUNDER):
        # The call whose budget the same journal took the money from.
        return Subquery(
            Posting.objects.filter(
                journal_id=OuterRef("journal_id"), account__kind=Account.Kind.INITIATIVE_BUDGET
            ).values("account__key")[:1],
            output_field=CharField(),
        )
    if dimension == Dimension.MUNICIPALITY:
        return F("account__key")  # one row per person, added up by town afterwards
    return {None: None, Dimension.WEEK: _week("journal__created_at")}[dimension]


def _by_town(rows: dict[Any, dict]) -> dict[Any, dict]:
    """Rows of people's payable accounts (``beneficiary:<id>:payable``) added up by town."""
    towns = dict(
        Beneficiary.objects.filter(
            pk__in=[int(key.split(":")[1]) for key in rows if key is not None]
        ).values_list("pk", "municipality_id")
    )
    added: dict[Any, dict] = defaultdict(dict)
    for key, values in rows.items():
        town = towns.get(int(key.split(":")[1])) if key is not None else None
        for name, value in values.items():
            added[town][name] = added[town].get(name, 0) + (value or 0)
    return added


def _paid_key(dimension: str | None, benefit_kind: str):
    if benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        row, ref = ReimbursementClaim.objects, "claim_ref"
        town = "application__municipality_id"
    else:
        row, ref, town = Application.objects, "application_ref", "municipality_id"
    if dimension in (Dimension.CALL, Dimension.FUNDER):
        return Subquery(
            row.filter(pk=OuterRef(ref)).values("initiative_id")[:1],
            output_field=IntegerField(),
        )
    if dimension == Dimension.MUNICIPALITY:
        return Subquery(row.filter(pk=OuterRef(ref)).values(town)[:1], output_field=IntegerField())
    return {None: None, Dimension.WEEK: _week("paid_at")}[dimension]


GRANTED_JOURNALS = {
    "reimbursements_approved": [Journal.Kind.REIMBURSEMENT_APPROVED],
    "contributions_granted": [
        Journal.Kind.CASH_CONTRIBUTION,
        Journal.Kind.CASH_CONTRIBUTION_CANCELLED,
    ],
}
PAID_TRANSFERS = {
    "reimbursements_paid": Initiative.BenefitKind.REIMBURSEMENT,
    "contributions_paid": Initiative.BenefitKind.CASH_TRANSFER,
}


def _figures(
    sources: _Sources, dimension: str | None, columns: Iterable[str]
) -> dict[Any, dict[str, Any]]:
    """The figures of ``columns`` grouped by ``dimension`` (None: the totals, key None)."""
    wanted = set(columns)
    figures: dict[Any, dict[str, Any]] = defaultdict(dict)

    def merge(rows: dict, normalise_key=None) -> None:
        for key, values in rows.items():
            if dimension == Dimension.WEEK and key is not None:
                key = week_start(key)
            elif normalise_key is not None and key is not None:
                key = normalise_key(key)
            for name, value in values.items():
                if name in wanted:
                    figures[key][name] = value

    if "allocated" in wanted and dimension in (None, Dimension.CALL):
        merge(
            _grouped(
                sources.allocated(),
                None if dimension is None else F("account__key"),
                {"allocated": Sum("amount")},
            ),
            _account_call,
        )
    if wanted & {"issued", "vouchers", "beneficiaries"}:
        merge(
            _grouped(
                sources.vouchers(),
                sources.voucher_key(dimension),
                {
                    "issued": Sum("face_value"),
                    "vouchers": Count("pk"),
                    "beneficiaries": Count("beneficiary_id", distinct=True),
                },
            )
        )
    if wanted & {"redeemed", "redemptions", "spenders", "shops"}:
        merge(
            _grouped(
                sources.redemptions(),
                sources.redemption_key(dimension, "created_at"),
                {
                    "redeemed": Sum("amount"),
                    "redemptions": Count("pk"),
                    "spenders": Count("voucher__beneficiary_id", distinct=True),
                    "shops": Count("merchant_id", distinct=True),
                },
            )
        )
    for name, date_path in (
        ("settled", "settlement__created_at"),
        ("paid", "settlement__payment_line__paid_at"),
    ):
        if name in wanted:
            merge(
                _grouped(
                    sources.redemptions(date_path).filter(**{f"{date_path}__isnull": False}),
                    sources.redemption_key(dimension, date_path),
                    {name: Sum("amount")},
                )
            )
    for name, kind in (
        ("expired", Journal.Kind.VOUCHER_EXPIRED),
        ("revoked", Journal.Kind.VOUCHER_REVOKED),
    ):
        if name in wanted:
            merge(
                _grouped(
                    sources.returned(kind),
                    sources.posting_key(dimension, kind=kind),
                    # The posting takes the residual off the voucher: a negative amount.
                    {name: -Sum("amount")},
                ),
                _account_call if dimension == Dimension.CALL else None,
            )
    for name, journal_kinds in GRANTED_JOURNALS.items():
        if name in wanted and dimension in TRANSFER_DIMENSIONS | {None}:
            rows = _grouped(
                sources.granted(journal_kinds), _granted_key(dimension), {name: Sum("amount")}
            )
            if dimension == Dimension.MUNICIPALITY:
                rows = _by_town(rows)
            merge(rows, _account_call if dimension in (Dimension.CALL, Dimension.FUNDER) else None)
    for name, benefit_kind in PAID_TRANSFERS.items():
        if name in wanted and dimension in TRANSFER_DIMENSIONS | {None}:
            merge(
                _grouped(
                    sources.transfers_paid(benefit_kind),
                    _paid_key(dimension, benefit_kind),
                    {name: Sum("amount")},
                )
            )
    for values in figures.values():
        for name in wanted:
            if COLUMNS[name].money:
                values[name] = _cents(values.get(name))
            else:
                values[name] = values.get(name) or 0
    return figures


def _labels(dimension: str, keys: Iterable) -> dict[Any, str]:
    ids = [key for key in keys if key is not None]
    if dimension == Dimension.CALL:
        names = dict(Initiative.objects.filter(pk__in=ids).values_list("pk", "title"))
    elif dimension == Dimension.MUNICIPALITY:
        names = dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.SHOP:
        names = dict(_model("Merchant").objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.CATEGORY:
        names = dict(SpendingCategory.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.WEEK:
        names = {key: week_label(key) for key in ids}
    else:
        names = {}
    missing = str(_("Senza categoria") if dimension == Dimension.CATEGORY else _("Non indicato"))
    return {key: names.get(key, missing) if key is not None else missing for key in keys}


def _sorted_rows(dimension: str, figures: dict[Any, dict]) -> list[ReportRow]:
    labels = _labels(dimension, figures)
    rows = [ReportRow(key, labels[key], values) for key, values in figures.items()]
    if dimension == Dimension.WEEK:
        return sorted(rows, key=lambda row: (row.key is None, row.key or date.min))
    return sorted(rows, key=lambda row: (row.key is None, row.label.casefold(), str(row.key)))


def call_report(
    *,
    initiative: Initiative,
    dimension: str = Dimension.CALL,
    period: Period | None = None,
    municipality_ids: frozenset[int] | None = None,
) -> Report:
    """A call's figures by one dimension, with the call's totals."""
    period = period or Period()
    column_keys = report_columns(dimension, [initiative.benefit_kind])
    sources = _Sources(
        initiative_ids=[initiative.pk], period=period, municipality_ids=municipality_ids
    )
    rows = _sorted_rows(dimension, _figures(sources, dimension, column_keys))
    totals = _figures(sources, None, column_keys).get(None) or {
        key: ZERO if COLUMNS[key].money else 0 for key in column_keys
    }
    return Report(
        title=str(_("Rendicontazione per %(dimension)s") % {"dimension": _dimension(dimension)}),
        subject=initiative.title,
        dimension=dimension,
        period=period,
        columns=[COLUMNS[key] for key in column_keys],
        rows=rows,
        totals=totals,
        note=str(_("Solo i residenti dei tuoi comuni.")) if municipality_ids is not None else "",
    )


def _dimension(dimension: str) -> str:
    return str(Dimension(dimension).label).lower()


def funder_call_figures(
    *,
    funder: Organization,
    initiatives: QuerySet[Initiative],
    period: Period,
    municipality_ids: frozenset[int] | None,
) -> dict[int, dict[str, Any]]:
    """The figures of each call financed by ``funder``, by call id.

    Beside the whole call's figures, the funder's own share: what was assigned to the call
    from his contributions, and the spending (redemptions net of voids, and reimbursements)
    attributed to them by the call's rule (``vouchers.funding``).
    """
    from vouchers.funding import funder_reach  # funding builds on the reports' neighbours

    ids = list(
        calls_financed_by(funder_ids=[funder.pk])
        .filter(pk__in=initiatives)
        .values_list("pk", flat=True)
    )
    if not ids:
        return {}
    sources = _Sources(initiative_ids=ids, period=period, municipality_ids=municipality_ids)
    columns = [*DIMENSION_COLUMNS[Dimension.FUNDER], *GRANTED_JOURNALS, *PAID_TRANSFERS]
    figures = dict(_figures(sources, Dimension.CALL, columns))
    assigned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for initiative_id, amount in InitiativeFunding.objects.filter(
        initiative_id__in=ids, contribution__funder=funder
    ).values_list("initiative_id", "amount"):
        assigned[initiative_id] += amount
    spent: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in funder_reach(funder=funder, group_by="initiative"):  # one query, every call
        spent[row.initiative_id] += row.amount
    for initiative_id, row in figures.items():
        row["funder_assigned"] = assigned[initiative_id]
        row["funder_spent"] = spent[initiative_id]
    return figures


def funder_report(
    *,
    funder: Organization,
    initiatives: QuerySet[Initiative] | None = None,
    period: Period | None = None,
    municipality_ids: frozenset[int] | None = None,
) -> Report:
    """The calls a funder's contributions financed, one row each, and their sum."""
    period = period or Period()
    figures = funder_call_figures(
        funder=funder,
        initiatives=initiatives if initiatives is not None else Initiative.objects.all(),
        period=period,
        municipality_ids=municipality_ids,
    )
    kinds = Initiative.objects.filter(pk__in=list(figures)).values_list("benefit_kind", flat=True)
    column_keys = report_columns(Dimension.FUNDER, set(kinds) or VOUCHER_KINDS)
    rows = _sorted_rows(Dimension.CALL, figures)
    totals: dict[str, Any] = {}
    for key in column_keys:
        values = [row.figures[key] for row in rows]
        totals[key] = sum(values, ZERO if COLUMNS[key].money else 0)
    return Report(
        title=str(_("Rendicontazione per finanziatore")),
        subject=funder.name,
        dimension=Dimension.FUNDER,
        period=period,
        columns=[COLUMNS[key] for key in column_keys],
        rows=rows,
        totals=totals,
        note=str(
            _(
                "Cifre complete dei bandi pagati da fondi a cui il finanziatore ha "
                "contribuito; i beneficiari sono contati per bando."
            )
        ),
    )


# --- the public transparency page ----------------------------------------------------------


PUBLIC_DIMENSIONS = [Dimension.MUNICIPALITY, Dimension.CATEGORY, Dimension.WEEK]
# Each count of people and the figures that would tell something about those people.
RECEIVED = ("receivers", ("vouchers", "issued"))
SPENT = ("spenders", ("spent", "shops"))


@dataclass
class PublicCell:
    """A public figure; ``small`` marks a count of fewer than ten people (shown as such)."""

    value: Decimal | int | None
    hidden: bool = False
    small: bool = False


@dataclass
class PublicRow:
    label: str
    cells: dict[str, PublicCell]


@dataclass
class PublicTable:
    dimension: str
    rows: list[PublicRow]
    total: PublicRow


def _public_figures(sources: _Sources, dimension: str | None) -> dict[Any, dict[str, Any]]:
    """People, vouchers and money by ``dimension``; a category has no vouchers issued."""
    issued_too = dimension != Dimension.CATEGORY
    empty = {
        "receivers": 0 if issued_too else None,
        "vouchers": 0 if issued_too else None,
        "issued": ZERO if issued_too else None,
        "spenders": 0,
        "spent": ZERO,
        "shops": 0,
    }
    figures: dict[Any, dict[str, Any]] = defaultdict(lambda: dict(empty))
    if issued_too:
        columns = ["issued", "vouchers", "beneficiaries"]
        for key, values in _figures(sources, dimension, columns).items():
            figures[key].update(
                receivers=values["beneficiaries"],
                vouchers=values["vouchers"],
                issued=values["issued"],
            )
    for key, values in _figures(sources, dimension, ["redeemed", "spenders", "shops"]).items():
        figures[key].update(
            spenders=values["spenders"], spent=values["redeemed"], shops=values["shops"]
        )
    if dimension is None and not figures:
        figures[None] = dict(empty)
    return figures


def _small(count: int | None) -> bool:
    return count is not None and 0 < count < PUBLIC_MIN_PEOPLE


def _suppress(rows: list[PublicRow], total: PublicRow) -> None:
    """Hide every group of figures backed by fewer than ten people, and one more where
    a single hidden group could be recovered by subtracting the others from the total."""
    for count, related in (RECEIVED, SPENT):
        group = (count, *related)

        def hide(row: PublicRow, group=group) -> None:
            for name in group:
                row.cells[name].hidden = True

        for row in (*rows, total):
            if _small(row.cells[count].value):
                row.cells[count].small = True
                hide(row)
        if total.cells[count].hidden:
            # Every row is a part of a total of fewer than ten: nothing to show.
            for row in rows:
                hide(row)
            continue
        hidden = [row for row in rows if row.cells[count].hidden]
        if len(hidden) != 1:
            continue
        others = sorted(
            (row for row in rows if not row.cells[count].hidden and row.cells[count].value),
            key=lambda row: (row.cells[count].value, row.label),
        )
        hide(others[0] if others else total)


def transparency_tables(*, initiative: Initiative) -> list[PublicTable]:
    """A call's public aggregates by municipality, category and week, small cells hidden."""
    sources = _Sources(initiative_ids=[initiative.pk], period=Period(), municipality_ids=None)

    def public_row(label: str, values: dict) -> PublicRow:
        return PublicRow(label, {name: PublicCell(value) for name, value in values.items()})

    call_total = _public_figures(sources, None)[None]
    tables = []
    for dimension in PUBLIC_DIMENSIONS:
        figures = _public_figures(sources, dimension)
        total = dict(call_total)
        if dimension == Dimension.CATEGORY:
            total.update(receivers=None, vouchers=None, issued=None)
        table = PublicTable(
            dimension,
            [public_row(row.label, row.figures) for row in _sorted_rows(dimension, figures)],
            public_row(str(_("Totale")), total),
        )
        _suppress(table.rows, table.total)
        tables.append(table)
    return tables
