"""The report of where each funder's money went, in the admin.

It refreshes the attribution first (``reports.attribution``), then shows, per call, the
shops, categories and municipalities reached (``reports.funder_reach``), with CSV and XLSX
downloads. Its page hangs under the funding sources' admin, registered here again with the
page's URL, so that ``vouchers`` never imports the reports.
"""

import io

from django import forms
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminSingleDateWidget

from core.admin.toolkit import changelist_url, euro
from core.days import day_validators
from core.models import Contribution, Organization
from core.money import ZERO
from core.spreadsheets import MONEY_FORMAT, csv_bytes, file_name
from reports.funder_reach import GROUPS, ReachRow, funder_reach
from vouchers.admin.funding import InitiativeFundingAdmin, sidebar_permission, visible_contributions
from vouchers.models import InitiativeFunding

# --- the funder's report -----------------------------------------------------------------

FILE_FORMATS = ("csv", "xlsx")


class ReachForm(forms.Form):
    funder = forms.ModelChoiceField(
        label=gettext_lazy("Finanziatore"),
        queryset=Organization.objects.none(),
        widget=UnfoldAdminSelectWidget,
        error_messages={
            "invalid_choice": gettext_lazy("Scegli uno dei finanziatori dell'elenco."),
            "required": gettext_lazy("Scegli il finanziatore."),
        },
    )
    contribution = forms.ModelChoiceField(
        label=gettext_lazy("Contributo"),
        queryset=Contribution.objects.none(),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text=gettext_lazy("Vuoto: tutti i contributi del finanziatore."),
        error_messages={"invalid_choice": gettext_lazy("Scegli uno dei contributi dell'elenco.")},
    )
    group_by = forms.ChoiceField(
        label=gettext_lazy("Righe per"),
        choices=list(GROUPS.items()),
        initial="merchant",
        widget=UnfoldAdminSelectWidget,
        error_messages={"invalid_choice": gettext_lazy("Scegli una delle voci dell'elenco.")},
    )
    since = forms.DateField(
        label=gettext_lazy("Dal"),
        required=False,
        widget=UnfoldAdminSingleDateWidget,
        validators=day_validators(),
        help_text=gettext_lazy("Vuoto: dall'inizio. Giorno incluso."),
        error_messages={"invalid": gettext_lazy("Data non valida: controlla giorno, mese e anno.")},
    )
    until = forms.DateField(
        label=gettext_lazy("Al"),
        required=False,
        widget=UnfoldAdminSingleDateWidget,
        validators=day_validators(),
        help_text=gettext_lazy(
            "Vuoto: fino a oggi. Giorno incluso: conta la spesa e gli annullamenti "
            "registrati in quei giorni."
        ),
        error_messages={"invalid": gettext_lazy("Data non valida: controlla giorno, mese e anno.")},
    )

    def __init__(self, *args, contributions: QuerySet[Contribution], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["funder"].queryset = Organization.objects.filter(
            pk__in=contributions.values("funder_id")
        ).order_by("name")
        self.fields["contribution"].queryset = contributions.select_related("funder", "fund")

    def clean(self):
        data = super().clean()
        contribution, funder = data.get("contribution"), data.get("funder")
        if contribution is not None and funder is not None and contribution.funder_id != funder.pk:
            self.add_error("contribution", _("Il contributo è di un altro finanziatore."))
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since > until:
            self.add_error("until", _("La data finale viene prima di quella iniziale."))
        return data


def period_label(since, until) -> str:
    """The report's period in words, or "" for the whole life of the calls."""

    def day(value):
        return formats.date_format(value, "SHORT_DATE_FORMAT")

    if since is not None and until is not None:
        return _("dal %(since)s al %(until)s") % {"since": day(since), "until": day(until)}
    if since is not None:
        return _("dal %(since)s") % {"since": day(since)}
    if until is not None:
        return _("fino al %(until)s") % {"until": day(until)}
    return ""


def reach_table(rows: list[ReachRow], group_by: str) -> dict:
    return {
        "headers": [_("Bando"), str(GROUPS[group_by]), _("Importo"), _("Numero")],
        "rows": [[row.initiative, row.label, euro(row.amount), row.count] for row in rows],
    }


def reach_csv(rows: list[ReachRow], group_by: str) -> bytes:
    return csv_bytes(
        [
            [_("Bando"), str(GROUPS[group_by]), _("Importo"), _("Numero")],
            *([row.initiative, row.label, row.amount, row.count] for row in rows),
        ]
    )


def reach_xlsx(rows: list[ReachRow], group_by: str, title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = _("Finanziatore")[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    sheet.append([_("Bando"), str(GROUPS[group_by]), _("Importo"), _("Numero")])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.initiative, row.label, row.amount, row.count])
        sheet.cell(row=sheet.max_row, column=3).number_format = MONEY_FORMAT
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def funder_report_page(request: HttpRequest, model_admin) -> HttpResponse:
    """Where a funder's money went: refreshed first, then shown or downloaded."""
    if not sidebar_permission(request):
        raise Http404
    contributions = visible_contributions(request)
    form = ReachForm(request.GET or None, contributions=contributions)
    rows, total = None, ZERO
    if form.is_valid():
        data = form.cleaned_data
        rows = funder_reach(
            funder=data["funder"],
            contribution=data["contribution"],
            group_by=data["group_by"],
            within=contributions,
            since=data["since"],
            until=data["until"],
            refresh=True,
        )
        total = sum((row.amount for row in rows), ZERO)
        period = period_label(data["since"], data["until"])
        title = _("Dove sono arrivati i fondi di %(funder)s") % {"funder": data["funder"]}
        if period:
            title = f"{title}, {period}"
        file_format = request.GET.get("formato")
        if file_format in FILE_FORMATS:
            days = [
                f"{which}-{value:%Y-%m-%d}"
                for which, value in (("dal", data["since"]), ("al", data["until"]))
                if value is not None
            ]
            name = file_name(
                "fondi",
                data["funder"].name,
                "per",
                GROUPS[data["group_by"]],
                *days,
                extension=file_format,
            )
            if file_format == "csv":
                response = HttpResponse(
                    reach_csv(rows, data["group_by"]), content_type="text/csv; charset=utf-8"
                )
            else:
                response = HttpResponse(
                    reach_xlsx(rows, data["group_by"], title),
                    content_type=(
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    ),
                )
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
    query = request.GET.copy()
    query.pop("formato", None)
    downloads = (
        [
            (label, f"?{urlencode({**query.dict(), 'formato': file_format})}")
            for file_format, label in (("csv", "CSV"), ("xlsx", "XLSX"))
        ]
        if rows is not None
        else []
    )
    return TemplateResponse(
        request,
        "admin/buonocomune/funder_reach.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": InitiativeFunding._meta,
            "title": _("Rapporto per finanziatore"),
            "form": form,
            "media": model_admin.media + form.media,
            "table": reach_table(rows, form.cleaned_data["group_by"]) if rows else None,
            "searched": rows is not None,
            "period": period_label(form.cleaned_data["since"], form.cleaned_data["until"])
            if rows is not None
            else "",
            "total": euro(total),
            "downloads": downloads,
            "sources_url": changelist_url(InitiativeFunding),
        },
    )


class InitiativeFundingReachAdmin(InitiativeFundingAdmin):
    """The funding sources' admin with the funder's report page."""

    def get_urls(self):
        return [
            path(
                "rapporto-finanziatore/",
                self.admin_site.admin_view(self.funder_report_view),
                name="vouchers_funder_reach",
            ),
            *super().get_urls(),
        ]

    def funder_report_view(self, request):
        return funder_report_page(request, self)
