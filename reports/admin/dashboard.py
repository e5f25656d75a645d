"""The admin's home page: the figures staff look at first (``reports.dashboard``), scoped to
the user, with links to the lists he may open.
"""

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.money import format_euro
from merchants.models import Merchant, Redemption, RefusedAttempt
from reports.admin.dashboard_tables import chart_data, euro_text, initiative_table, town_table
from reports.dashboard import (
    CHART_DAYS,
    REFRESH_PARAMETER,
    TABLE_ROWS,
    dashboard_scope,
    merchant_figures,
    refused_today,
    scope_figures,
)
from vouchers.admin.scoping import request_scope
from vouchers.models import Application, Voucher


def _changelist(model, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def _href(request, model, **filters) -> str | None:
    """A link to a list, only for those who may open it."""
    opts = model._meta
    if not request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return None
    return _changelist(model, **filters)


def dashboard_callback(request, context):
    staff = request_scope(request)
    scope = dashboard_scope(user=request.user, staff=staff)
    computed = scope_figures(staff, scope, refresh=REFRESH_PARAMETER in request.GET)
    figures = computed["figures"]
    overall = figures["overall"]
    to_decide = overall.applications[Application.Status.SUBMITTED]

    kpis = [
        {
            "title": _("Domande da istruire"),
            "icon": "inbox",
            "value": to_decide,
            "footer": ngettext(
                "%(count)d domanda in tutto",
                "%(count)d domande in tutto",
                overall.applications_total,
            )
            % {"count": overall.applications_total},
            "href": _href(request, Application, coda="da-istruire"),
        },
        {
            "title": _("Buoni emessi"),
            "icon": "qr_code_2",
            "value": overall.vouchers,
            "footer": _("%(amount)s in valore nominale") % {"amount": euro_text(overall.issued)},
            "href": _href(request, Voucher),
        },
        {
            "title": _("Buoni attivi"),
            "icon": "account_balance_wallet",
            "value": overall.active,
            "footer": _("%(amount)s ancora da spendere")
            % {"amount": euro_text(overall.outstanding)},
            "href": _href(request, Voucher, status__exact=Voucher.Status.ACTIVE),
        },
        {
            "title": _("Speso nei negozi"),
            "icon": "point_of_sale",
            "value": format_euro(overall.redeemed),
            "footer": ngettext("%(count)d utilizzo", "%(count)d utilizzi", overall.redemptions)
            % {"count": overall.redemptions},
            "href": _href(request, Redemption, status__exact=Redemption.Status.CONFIRMED),
        },
    ]
    if not scope.funder_only:
        merchants = merchant_figures(scope)
        today = timezone.localdate()
        kpis += [
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
                "href": _href(request, Merchant, status__exact=Merchant.Status.ACCREDITED),
            },
            {
                "title": _("Tentativi rifiutati oggi"),
                "icon": "block",
                "value": refused_today(scope),
                "footer": _("codici errati, buoni scaduti o revocati, negozi fuori circuito"),
                "href": _href(request, RefusedAttempt, created_at_from=today.isoformat()),
            },
        ]
        context["top_shops"] = {
            "headers": [_("Negozio"), _("Speso"), _("Utilizzi")],
            "rows": [
                [row["merchant__name"], euro_text(row["total"]), row["count"]]
                for row in computed["top_shops"]
            ],
        }
    context["kpis"] = kpis
    context["figures"] = figures
    context["initiative_rows_table"] = initiative_table(figures["by_initiative"])
    context["town_table"] = town_table(figures["by_town"])
    context["more_initiatives"] = max(len(figures["by_initiative"]) - TABLE_ROWS, 0)
    context["more_towns"] = max(len(figures["by_town"]) - TABLE_ROWS, 0)
    context["category_table"] = {
        "headers": [_("Categoria"), _("Speso")],
        "rows": [
            [row["name"] or _("Senza categoria"), euro_text(row["total"])]
            for row in computed["categories"]
        ],
    }
    context["funder_only"] = scope.funder_only
    context["figures_computed_at"] = computed["computed_at"]
    context["figures_refresh_url"] = f"{reverse('admin:index')}?{REFRESH_PARAMETER}=1"

    days = computed["days"]
    labels = [row["day"].strftime("%d/%m") for row in days]
    # Floats only for drawing the chart; every sum above stays a Decimal.
    context["chart_amounts"] = chart_data(
        str(_("Speso (€)")),
        [float(row["total"]) for row in days],
        labels,
        "var(--color-primary-600)",
    )
    context["chart_counts"] = chart_data(
        str(_("Utilizzi")), [row["count"] for row in days], labels, "var(--color-primary-400)"
    )
    context["chart_days"] = CHART_DAYS
    # With nothing to draw the chart would span an axis from -1 to 1: say so in words instead.
    context["chart_has_data"] = any(row["count"] for row in days)
    return context
