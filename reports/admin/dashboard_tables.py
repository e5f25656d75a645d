"""The dashboard's tables and charts as the admin's home page shows them (the figures come from
``reports.dashboard``)."""

import json
from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import gettext_lazy as _

from core.money import ZERO, format_euro
from reports.dashboard import TABLE_ROWS, Totals
from vouchers.models import Application, Initiative


def euro_text(amount: Decimal | None) -> str:
    return format_euro(amount or ZERO).replace(" ", "\u00a0")


def _days(totals: Totals) -> str:
    days = totals.average_days
    return formats.number_format(days, 1) if days is not None else "—"


def _applications_cell(totals: Totals) -> str:
    counts = totals.applications
    return _("%(total)d · %(open)d da istruire · %(approved)d ammesse · %(rejected)d respinte") % {
        "total": totals.applications_total,
        "open": counts[Application.Status.SUBMITTED] + counts[Application.Status.INFO_REQUESTED],
        "approved": counts[Application.Status.APPROVED],
        "rejected": counts[Application.Status.REJECTED],
    }


MONEY_HEADERS = [
    _("Domande"),
    _("Assegnato"),
    _("Emesso"),
    _("Speso"),
    _("Scaduto"),
    _("Giorni alla decisione"),
]


def _money_cells(totals: Totals) -> list[str]:
    return [
        _applications_cell(totals),
        euro_text(totals.allocated),
        euro_text(totals.issued),
        euro_text(totals.redeemed),
        euro_text(totals.expired),
        _days(totals),
    ]


def _rows(groups: dict[Any, Totals], limit: int = TABLE_ROWS) -> list[tuple[Any, Totals]]:
    """The groups with the most money and applications first."""
    ordered = sorted(
        groups.items(),
        key=lambda item: (-item[1].issued, -item[1].applications_total, str(item[1].title)),
    )
    return ordered[:limit]


def initiative_table(by_initiative: dict[int, Totals]) -> dict[str, Any]:
    statuses = dict(Initiative.Status.choices)
    return {
        "headers": [_("Bando"), _("Stato"), *MONEY_HEADERS],
        "rows": [
            [totals.title, statuses.get(totals.status, ""), *_money_cells(totals)]
            for _pk, totals in _rows(by_initiative)
        ],
    }


def town_table(by_town: dict[int, Totals]) -> dict[str, Any]:
    return {
        "headers": [_("Comune"), *MONEY_HEADERS],
        "rows": [[totals.title, *_money_cells(totals)] for _pk, totals in _rows(by_town)],
    }


def chart_data(label: str, values: list[Any], labels: list[str], color: str) -> str:
    return json.dumps(
        {
            "labels": labels,
            "datasets": [
                {
                    "label": label,
                    "data": values,
                    "backgroundColor": color,
                    "borderColor": color,
                    "maxTicksXLimit": 10,
                    "displayYAxis": True,
                }
            ],
        }
    )
