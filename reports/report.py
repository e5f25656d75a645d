"""What a report is: the dimensions its rows go by, its columns, its period, its rows.

The figures themselves are read by ``reports.figures``."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vouchers.models import Initiative

ROME = ZoneInfo("Europe/Rome")


class Dimension(models.TextChoices):
    INITIATIVE = "call", _("Bando")
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
_INITIATIVE_COLUMNS = [
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
    Dimension.INITIATIVE: _INITIATIVE_COLUMNS,
    Dimension.FUNDER: ["funder_assigned", "funder_spent", *_INITIATIVE_COLUMNS],
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
TRANSFER_DIMENSIONS = {
    Dimension.INITIATIVE,
    Dimension.FUNDER,
    Dimension.MUNICIPALITY,
    Dimension.WEEK,
}
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


def week_start(value: datetime | date) -> date:
    """The Monday of the ISO week of a date or (Rome) date-time."""
    if isinstance(value, datetime):
        value = timezone.localtime(value, ROME).date() if timezone.is_aware(value) else value.date()
    return value - timedelta(days=value.weekday())


def week_label(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    return f"{year}-W{week:02d} ({monday:%d/%m} – {sunday:%d/%m/%Y})"
