"""The public transparency page of a call: aggregates only, small groups of people hidden."""

from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.money import format_euro
from reports.open_data import PublicRow, PublicTable, transparency_tables
from reports.report import Dimension
from vouchers.models import Initiative

# The figures move slowly and the page is public: read the database at most this often.
CACHE_SECONDS = 600
HIDDEN = "< 10"
NOT_APPLICABLE = "—"
COLUMNS = [
    ("receivers", False),
    ("vouchers", False),
    ("issued", True),
    ("spenders", False),
    ("spent", True),
    ("shops", False),
]


def _cell(cell, money: bool) -> dict:
    if cell.hidden:
        return {"text": HIDDEN if cell.small else _("riservato"), "hidden": True}
    if cell.value is None:
        return {"text": NOT_APPLICABLE, "hidden": False}
    if money:
        return {"text": format_euro(cell.value), "hidden": False}
    return {"text": formats.number_format(cell.value, force_grouping=True), "hidden": False}


def _row(row: PublicRow) -> dict:
    return {
        "label": row.label,
        "cells": [_cell(row.cells[name], money) for name, money in COLUMNS],
    }


def _table(table: PublicTable) -> dict:
    captions = {
        Dimension.MUNICIPALITY: _("Per comune di residenza"),
        Dimension.CATEGORY: _("Per categoria del negozio"),
        Dimension.WEEK: _("Per settimana"),
    }
    headers = {
        Dimension.MUNICIPALITY: _("Comune"),
        Dimension.CATEGORY: _("Categoria"),
        Dimension.WEEK: _("Settimana"),
    }
    return {
        "id": f"per-{table.dimension}",
        "caption": captions[table.dimension],
        "header": headers[table.dimension],
        "rows": [_row(row) for row in table.rows],
        "total": {**_row(table.total), "label": _("Totale")},
    }


def transparency_page(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(
        Initiative.objects.filter(~Q(status=Initiative.Status.DRAFT)), pk=initiative_id
    )
    tables = cache.get_or_set(
        f"transparency:{initiative.pk}:{get_language()}",
        lambda: transparency_tables(initiative=initiative),
        CACHE_SECONDS,
    )
    return render(
        request,
        "pwa/transparency.html",
        {
            "initiative": initiative,
            "tables": [_table(table) for table in tables],
            "column_labels": [
                _("Beneficiari con buoni"),
                _("Buoni emessi"),
                _("Importo emesso"),
                _("Beneficiari che hanno speso"),
                _("Importo speso"),
                _("Negozi"),
            ],
            "hidden_mark": HIDDEN,
        },
    )
