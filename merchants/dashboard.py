"""The admin's home page: the figures staff look at first.

A fixed handful of aggregate queries, whatever the size of the tables: one per card group
and one for the chart.
"""

import json
from datetime import datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.money import ZERO, format_euro
from merchants.models import Merchant, Redemption, RefusedAttempt
from vouchers.models import Voucher

CHART_DAYS = 30


def _changelist(model, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def voucher_figures() -> dict:
    return Voucher.objects.aggregate(
        count=Count("id"),
        issued=Sum("face_value"),
        active=Count("id", filter=Q(status=Voucher.Status.ACTIVE)),
        outstanding=Sum("balance", filter=Q(status=Voucher.Status.ACTIVE)),
    )


def redemption_figures() -> dict:
    return Redemption.objects.filter(status=Redemption.Status.CONFIRMED).aggregate(
        total=Sum("amount"), count=Count("id")
    )


def merchant_figures() -> dict:
    return Merchant.objects.aggregate(
        accredited=Count("id", filter=Q(status=Merchant.Status.ACCREDITED)),
        requested=Count("id", filter=Q(status=Merchant.Status.REQUESTED)),
    )


def redemptions_per_day(*, days: int = CHART_DAYS) -> list[dict]:
    """Confirmed redemptions of the last ``days`` days (today included), one row per day."""
    today = timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    found = {
        row["day"]: row
        for row in Redemption.objects.filter(
            status=Redemption.Status.CONFIRMED, created_at__gte=_start_of(first_day)
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"), total=Sum("amount"))
        .order_by("day")
    }
    rows = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        row = found.get(day, {})
        rows.append({"day": day, "count": row.get("count", 0), "total": row.get("total") or ZERO})
    return rows


def _chart(label: str, values: list, labels: list[str], color: str) -> str:
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


def dashboard_callback(request, context):
    vouchers = voucher_figures()
    redeemed = redemption_figures()
    merchants = merchant_figures()
    today = timezone.localdate()
    refused_today = RefusedAttempt.objects.filter(created_at__gte=_start_of(today)).count()

    context["kpis"] = [
        {
            "title": _("Buoni emessi"),
            "icon": "qr_code_2",
            "value": vouchers["count"],
            "footer": _("%(amount)s in valore nominale")
            % {"amount": format_euro(vouchers["issued"] or ZERO)},
            "href": _changelist(Voucher),
        },
        {
            "title": _("Buoni attivi"),
            "icon": "account_balance_wallet",
            "value": vouchers["active"],
            "footer": _("%(amount)s ancora da spendere")
            % {"amount": format_euro(vouchers["outstanding"] or ZERO)},
            "href": _changelist(Voucher, status__exact=Voucher.Status.ACTIVE),
        },
        {
            "title": _("Speso nei negozi"),
            "icon": "point_of_sale",
            "value": format_euro(redeemed["total"] or ZERO),
            "footer": ngettext("%(count)d utilizzo", "%(count)d utilizzi", redeemed["count"])
            % {"count": redeemed["count"]},
            "href": _changelist(Redemption, status__exact=Redemption.Status.CONFIRMED),
        },
        {
            "title": _("Negozi accreditati"),
            "icon": "storefront",
            "value": merchants["accredited"],
            "footer": ngettext(
                "%(count)d richiesta da esaminare",
                "%(count)d richieste da esaminare",
                merchants["requested"],
            )
            % {"count": merchants["requested"]},
            "href": _changelist(Merchant, status__exact=Merchant.Status.ACCREDITED),
        },
        {
            "title": _("Tentativi rifiutati oggi"),
            "icon": "block",
            "value": refused_today,
            "footer": _("codici errati, buoni scaduti o revocati, negozi fuori circuito"),
            "href": _changelist(RefusedAttempt, created_at_from=today.isoformat()),
        },
    ]

    days = redemptions_per_day()
    labels = [row["day"].strftime("%d/%m") for row in days]
    # Floats only for drawing the chart; every sum above stays a Decimal.
    context["chart_amounts"] = _chart(
        str(_("Speso (€)")),
        [float(row["total"]) for row in days],
        labels,
        "var(--color-primary-600)",
    )
    context["chart_counts"] = _chart(
        str(_("Utilizzi")), [row["count"] for row in days], labels, "var(--color-primary-400)"
    )
    context["chart_days"] = CHART_DAYS
    return context
