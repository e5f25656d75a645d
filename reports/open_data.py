"""Open data: a call's public aggregates by municipality, category and week, with every
figure backed by fewer than ten people hidden (and any that would reveal it)."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.money import ZERO
from reports.figures import Sources, grouped_figures, sorted_rows
from reports.report import Dimension, Period
from vouchers.models import Initiative

# Below this many people a public figure is not shown (nor the amounts that go with it).
PUBLIC_MIN_PEOPLE = 10


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


def _public_figures(sources: Sources, dimension: str | None) -> dict[Any, dict[str, Any]]:
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
        for key, values in grouped_figures(sources, dimension, columns).items():
            figures[key].update(
                receivers=values["beneficiaries"],
                vouchers=values["vouchers"],
                issued=values["issued"],
            )
    for key, values in grouped_figures(
        sources, dimension, ["redeemed", "spenders", "shops"]
    ).items():
        figures[key].update(
            spenders=values["spenders"], spent=values["redeemed"], shops=values["shops"]
        )
    if dimension is None and not figures:
        figures[None] = dict(empty)
    return figures


def _small(count: Decimal | int | None) -> bool:
    return count is not None and 0 < count < PUBLIC_MIN_PEOPLE


def _suppress(rows: list[PublicRow], total: PublicRow) -> None:
    """Hide every group of figures backed by fewer than ten people, and one more where
    a single hidden group could be recovered by subtracting the others from the total."""
    for count, related in (RECEIVED, SPENT):
        group = (count, *related)

        def hide(row: PublicRow, group: tuple[str, ...] = group) -> None:
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
    sources = Sources(initiative_ids=[initiative.pk], period=Period(), municipality_ids=None)

    def public_row(label: str, values: dict[str, Decimal | int | None]) -> PublicRow:
        return PublicRow(label, {name: PublicCell(value) for name, value in values.items()})

    initiative_total = _public_figures(sources, None)[None]
    tables = []
    for dimension in PUBLIC_DIMENSIONS:
        figures = _public_figures(sources, dimension)
        total = dict(initiative_total)
        if dimension == Dimension.CATEGORY:
            total.update(receivers=None, vouchers=None, issued=None)
        table = PublicTable(
            dimension,
            [public_row(row.label, row.figures) for row in sorted_rows(dimension, figures)],
            public_row(str(_("Totale")), total),
        )
        _suppress(table.rows, table.total)
        tables.append(table)
    return tables
