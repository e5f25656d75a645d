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

The figures are shared by the staff reports (``reports.rendicontazione``) and the public
tables (``reports.open_data``); who may read which call is in ``reports.scope``.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    Manager,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Combinable, Expression
from django.db.models.functions import Cast, Concat, TruncWeek
from django.utils.translation import gettext_lazy as _

from core.models import Account, Journal, Organization, PaymentLine, Posting
from core.money import CENT, ZERO
from merchants.models import Merchant, Redemption
from reports.report import (
    COLUMNS,
    ROME,
    TRANSFER_DIMENSIONS,
    Dimension,
    Period,
    ReportRow,
    week_label,
    week_start,
)
from reports.shops import shop_categories
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    ReimbursementClaim,
    SpendingCategory,
    Voucher,
)
from vouchers.selectors.payments import beneficiary_transfers_paid


def _cents(value: Decimal | float | int | None) -> Decimal:
    # SQLite adds decimals as floats: round every sum back to whole cents.
    return ZERO if value is None else Decimal(value).quantize(CENT)


def _week(path: str) -> TruncWeek:
    return TruncWeek(path, tzinfo=ROME)


# --- the figures --------------------------------------------------------------------------------

# What a source is grouped by: an expression, or None for one total row.
_GroupKey = Combinable | None


def _grouped(
    queryset: QuerySet[Any], key: _GroupKey, aggregates: dict[str, Combinable]
) -> dict[Any, dict[str, Any]]:
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


def _category_key(categories: dict[int, int | None]) -> Expression:
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


class Sources:
    """The querysets each figure is read from, for some calls, a period and a scope."""

    def __init__(
        self,
        *,
        initiative_ids: list[int],
        period: Period,
        municipality_ids: frozenset[int] | None,
    ) -> None:
        self.initiative_ids = initiative_ids
        self.period = period
        self.municipality_ids = municipality_ids
        self._categories: dict[int, int | None] | None = None

    @property
    def categories(self) -> dict[int, int | None]:
        if self._categories is None:
            self._categories = shop_categories(initiative_ids=self.initiative_ids)
        return self._categories

    def vouchers(self) -> QuerySet[Voucher]:
        vouchers = Voucher.objects.filter(
            initiative_id__in=self.initiative_ids, **self.period.lookups("issued_at")
        )
        if self.municipality_ids is not None:
            vouchers = vouchers.filter(beneficiary__municipality_id__in=self.municipality_ids)
        return vouchers

    def redemptions(self, date_path: str = "created_at") -> QuerySet[Redemption]:
        redemptions = Redemption.objects.filter(
            voucher__initiative_id__in=self.initiative_ids,
            status="confirmed",
            **self.period.lookups(date_path),
        )
        if self.municipality_ids is not None:
            redemptions = redemptions.filter(
                voucher__beneficiary__municipality_id__in=self.municipality_ids
            )
        return redemptions

    def returned(self, journal_kind: str) -> QuerySet[Posting]:
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

    def granted(self, journal_kinds: Sequence[str]) -> QuerySet[Posting]:
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

    def transfers_paid(self, benefit_kind: str) -> QuerySet[PaymentLine]:
        return beneficiary_transfers_paid(
            initiative_ids=self.initiative_ids,
            benefit_kind=benefit_kind,
            municipality_ids=self.municipality_ids,
            period=self.period,
        )

    def allocated(self) -> QuerySet[Posting]:
        return Posting.objects.filter(
            account__key__in=[f"initiative:{pk}:budget" for pk in self.initiative_ids],
            account__kind=Account.Kind.INITIATIVE_BUDGET,
            journal__kind=Journal.Kind.BUDGET_ASSIGNED,
            **self.period.lookups("journal__created_at"),
        )

    # The expression each source is grouped by, for a dimension (None: one total).

    def voucher_key(self, dimension: str | None) -> _GroupKey:
        keys: dict[str | None, _GroupKey] = {
            None: None,
            Dimension.INITIATIVE: F("initiative_id"),
            Dimension.MUNICIPALITY: F("beneficiary__municipality_id"),
            Dimension.WEEK: _week("issued_at"),
        }
        return keys[dimension]

    def redemption_key(self, dimension: str | None, date_path: str) -> _GroupKey:
        if dimension == Dimension.CATEGORY:
            return _category_key(self.categories)
        keys: dict[str | None, _GroupKey] = {
            None: None,
            Dimension.INITIATIVE: F("voucher__initiative_id"),
            Dimension.MUNICIPALITY: F("voucher__beneficiary__municipality_id"),
            Dimension.SHOP: F("merchant_id"),
            Dimension.WEEK: _week(date_path),
        }
        return keys[dimension]

    def posting_key(self, dimension: str | None, *, kind: str) -> _GroupKey:
        if dimension == Dimension.INITIATIVE:
            # The call's id is in its account's key: initiative:<id>:<kind>.
            return F("account__key")
        if dimension == Dimension.MUNICIPALITY:
            return Subquery(
                Voucher.objects.filter(pk=OuterRef("voucher_ref")).values(
                    "beneficiary__municipality_id"
                )[:1],
                output_field=IntegerField(),
            )
        keys: dict[str | None, _GroupKey] = {
            None: None,
            Dimension.WEEK: _week("journal__created_at"),
        }
        return keys[dimension]


def _account_initiative(key: str) -> int:
    return int(key.split(":")[1])


def _granted_key(dimension: str | None) -> _GroupKey:
    if dimension in (Dimension.INITIATIVE, Dimension.FUNDER):
        # The call whose budget the same journal took the money from.
        return Subquery(
            Posting.objects.filter(
                journal_id=OuterRef("journal_id"), account__kind=Account.Kind.INITIATIVE_BUDGET
            ).values("account__key")[:1],
            output_field=CharField(),
        )
    if dimension == Dimension.MUNICIPALITY:
        return F("account__key")  # one row per person, added up by town afterwards
    keys: dict[str | None, _GroupKey] = {None: None, Dimension.WEEK: _week("journal__created_at")}
    return keys[dimension]


def _by_town(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Rows of people's payable accounts (``beneficiary:<id>:payable``) added up by town."""
    towns = dict(
        Beneficiary.objects.filter(
            pk__in=[int(key.split(":")[1]) for key in rows if key is not None]
        ).values_list("pk", "municipality_id")
    )
    added: dict[Any, dict[str, Any]] = defaultdict(dict)
    for key, values in rows.items():
        town = towns.get(int(key.split(":")[1])) if key is not None else None
        for name, value in values.items():
            added[town][name] = added[town].get(name, 0) + (value or 0)
    return added


def _paid_key(dimension: str | None, benefit_kind: str) -> _GroupKey:
    row: Manager[ReimbursementClaim] | Manager[Application]
    if benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        row, ref = ReimbursementClaim.objects, "claim_ref"
        town = "application__municipality_id"
    else:
        row, ref, town = Application.objects, "application_ref", "municipality_id"
    if dimension in (Dimension.INITIATIVE, Dimension.FUNDER):
        return Subquery(
            row.filter(pk=OuterRef(ref)).values("initiative_id")[:1],
            output_field=IntegerField(),
        )
    if dimension == Dimension.MUNICIPALITY:
        return Subquery(row.filter(pk=OuterRef(ref)).values(town)[:1], output_field=IntegerField())
    keys: dict[str | None, _GroupKey] = {None: None, Dimension.WEEK: _week("paid_at")}
    return keys[dimension]


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


def grouped_figures(
    sources: Sources, dimension: str | None, columns: Iterable[str]
) -> dict[Any, dict[str, Any]]:
    """The figures of ``columns`` grouped by ``dimension`` (None: the totals, key None)."""
    wanted = set(columns)
    figures: dict[Any, dict[str, Any]] = defaultdict(dict)

    def merge(
        rows: dict[Any, dict[str, Any]], normalise_key: Callable[[Any], Any] | None = None
    ) -> None:
        for key, values in rows.items():
            if dimension == Dimension.WEEK and key is not None:
                key = week_start(key)
            elif normalise_key is not None and key is not None:
                key = normalise_key(key)
            for name, value in values.items():
                if name in wanted:
                    figures[key][name] = value

    if "allocated" in wanted and dimension in (None, Dimension.INITIATIVE):
        merge(
            _grouped(
                sources.allocated(),
                None if dimension is None else F("account__key"),
                {"allocated": Sum("amount")},
            ),
            _account_initiative,
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
                _account_initiative if dimension == Dimension.INITIATIVE else None,
            )
    for name, journal_kinds in GRANTED_JOURNALS.items():
        if name in wanted and dimension in TRANSFER_DIMENSIONS | {None}:
            rows = _grouped(
                sources.granted(journal_kinds), _granted_key(dimension), {name: Sum("amount")}
            )
            if dimension == Dimension.MUNICIPALITY:
                rows = _by_town(rows)
            merge(
                rows,
                _account_initiative
                if dimension in (Dimension.INITIATIVE, Dimension.FUNDER)
                else None,
            )
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


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, str]:
    ids = [key for key in keys if key is not None]
    if dimension == Dimension.INITIATIVE:
        names = dict(Initiative.objects.filter(pk__in=ids).values_list("pk", "title"))
    elif dimension == Dimension.MUNICIPALITY:
        names = dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.SHOP:
        names = dict(Merchant.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.CATEGORY:
        names = dict(SpendingCategory.objects.filter(pk__in=ids).values_list("pk", "name"))
    elif dimension == Dimension.WEEK:
        names = {key: week_label(key) for key in ids}
    else:
        names = {}
    missing = str(_("Senza categoria") if dimension == Dimension.CATEGORY else _("Non indicato"))
    return {key: names.get(key, missing) if key is not None else missing for key in keys}


def sorted_rows(dimension: str, figures: dict[Any, dict[str, Any]]) -> list[ReportRow]:
    labels = _labels(dimension, figures)
    rows = [ReportRow(key, labels[key], values) for key, values in figures.items()]
    if dimension == Dimension.WEEK:
        return sorted(rows, key=lambda row: (row.key is None, row.key or date.min))
    return sorted(rows, key=lambda row: (row.key is None, row.label.casefold(), str(row.key)))
