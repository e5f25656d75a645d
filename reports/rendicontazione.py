"""Rendicontazione: a call's figures by one dimension, and a funder's calls.

The figures and where each comes from are in ``reports.figures``."""

from collections import defaultdict
from decimal import Decimal
from typing import Any, cast

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.models import Organization
from core.money import ZERO
from reports.figures import GRANTED_JOURNALS, PAID_TRANSFERS, Sources, grouped_figures, sorted_rows
from reports.funder_reach import funder_reach
from reports.report import (
    COLUMNS,
    DIMENSION_COLUMNS,
    VOUCHER_KINDS,
    Dimension,
    Period,
    Report,
    report_columns,
)
from reports.scope import initiatives_financed_by
from vouchers.models import Initiative, InitiativeFunding


def initiative_report(
    *,
    initiative: Initiative,
    dimension: str = Dimension.INITIATIVE,
    period: Period | None = None,
    municipality_ids: frozenset[int] | None = None,
) -> Report:
    """A call's figures by one dimension, with the call's totals."""
    period = period or Period()
    column_keys = report_columns(dimension, [initiative.benefit_kind])
    sources = Sources(
        initiative_ids=[initiative.pk], period=period, municipality_ids=municipality_ids
    )
    rows = sorted_rows(dimension, grouped_figures(sources, dimension, column_keys))
    totals = grouped_figures(sources, None, column_keys).get(None) or {
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


def funder_initiative_figures(
    *,
    funder: Organization,
    initiatives: QuerySet[Initiative],
    period: Period,
    municipality_ids: frozenset[int] | None,
) -> dict[int, dict[str, Any]]:
    """The figures of each call financed by ``funder``, by call id.

    Beside the whole call's figures, the funder's own share: what was assigned to the call
    from his contributions, and the spending (redemptions net of voids, and reimbursements)
    attributed to them by the call's rule (``reports.attribution``).
    """

    ids = list(
        initiatives_financed_by(funder_ids=[funder.pk])
        .filter(pk__in=initiatives)
        .values_list("pk", flat=True)
    )
    if not ids:
        return {}
    sources = Sources(initiative_ids=ids, period=period, municipality_ids=municipality_ids)
    columns = [*DIMENSION_COLUMNS[Dimension.FUNDER], *GRANTED_JOURNALS, *PAID_TRANSFERS]
    figures = dict(grouped_figures(sources, Dimension.INITIATIVE, columns))
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
    figures = funder_initiative_figures(
        funder=funder,
        initiatives=initiatives if initiatives is not None else Initiative.objects.all(),
        period=period,
        municipality_ids=municipality_ids,
    )
    kinds = Initiative.objects.filter(pk__in=list(figures)).values_list("benefit_kind", flat=True)
    column_keys = report_columns(Dimension.FUNDER, set(kinds) or VOUCHER_KINDS)
    rows = sorted_rows(Dimension.INITIATIVE, figures)
    totals: dict[str, Any] = {}
    for key in column_keys:
        # sum() already takes these columns to hold no None: sums and counts.
        values = cast(list[Decimal], [row.figures[key] for row in rows])
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
