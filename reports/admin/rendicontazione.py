"""The "Rendicontazione" page of the admin: a call's figures by dimension and period, as a
table and as CSV, XLSX and PDF files of the same report.

Staff choose among the calls they may see (``reports.scope.report_scope``); a call
outside it is a form error, never a file. The figures come from ``reports.rendicontazione``,
the files from ``reports.files``.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminDateWidget, UnfoldAdminSelectWidget

from core.days import day_validators
from reports.files import (
    CONTENT_TYPES,
    WRITERS,
    generated_label,
    period_label,
    report_file_name,
    row_label_header,
    shown,
)
from reports.rendicontazione import funder_report, initiative_report
from reports.report import Dimension, Period, Report
from reports.scope import ReportScope, report_scope
from vouchers.admin.scoping import request_scope
from vouchers.models import Initiative

FORMATS = ("csv", "xlsx", "pdf")


def request_report_scope(request: HttpRequest) -> ReportScope:
    return report_scope(user=request.user, scope=request_scope(request))


def sidebar_permission(request: HttpRequest) -> bool:
    """Whether the sidebar shows the page: to staff with at least one call to report on."""
    return request.user.is_staff and request_report_scope(request).allowed


class ReportForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=gettext_lazy("Bando"),
        queryset=Initiative.objects.none(),
        required=False,
        widget=UnfoldAdminSelectWidget,
        error_messages={
            "invalid_choice": gettext_lazy("Scegli uno dei bandi dell'elenco."),
        },
    )
    dimension = forms.ChoiceField(
        label=gettext_lazy("Righe per"),
        choices=Dimension.choices,
        initial=Dimension.INITIATIVE,
        widget=UnfoldAdminSelectWidget,
        error_messages={
            "invalid_choice": gettext_lazy("Scegli una delle voci dell'elenco."),
            "required": gettext_lazy("Scegli come raggruppare le righe."),
        },
    )
    funder = forms.ModelChoiceField(
        label=gettext_lazy("Finanziatore"),
        queryset=None,
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text=gettext_lazy("Solo per le righe per finanziatore."),
        error_messages={"invalid_choice": gettext_lazy("Scegli uno dei finanziatori dell'elenco.")},
    )
    date_from = forms.DateField(
        label=gettext_lazy("Dal"),
        required=False,
        validators=day_validators(),
        widget=UnfoldAdminDateWidget,
        error_messages={"invalid": gettext_lazy("Scrivi la data come 31/01/2026.")},
    )
    date_to = forms.DateField(
        label=gettext_lazy("Al"),
        required=False,
        validators=day_validators(),
        widget=UnfoldAdminDateWidget,
        error_messages={"invalid": gettext_lazy("Scrivi la data come 31/01/2026.")},
    )

    def __init__(self, *args, scope: ReportScope, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope
        self.fields["initiative"].queryset = scope.initiatives.order_by("-valid_from", "title")
        self.fields["funder"].queryset = scope.funders
        dimensions = [
            (value, label)
            for value, label in Dimension.choices
            if (value != Dimension.SHOP or scope.shops_visible)
            and (value != Dimension.FUNDER or scope.funders.exists())
        ]
        self.fields["dimension"].choices = dimensions

    def clean(self):
        data = super().clean()
        dimension = data.get("dimension")
        if dimension == Dimension.FUNDER:
            if not data.get("funder") and "funder" not in self.errors:
                self.add_error("funder", _("Scegli il finanziatore."))
        elif dimension and not data.get("initiative") and "initiative" not in self.errors:
            self.add_error("initiative", _("Scegli il bando."))
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("La fine del periodo viene dopo l'inizio."))
        return data

    def report(self) -> Report:
        data = self.cleaned_data
        period = Period(start=data.get("date_from"), end=data.get("date_to"))
        if data["dimension"] == Dimension.FUNDER:
            return funder_report(
                funder=data["funder"],
                initiatives=self.scope.initiatives,
                period=period,
                municipality_ids=self.scope.municipality_ids,
            )
        return initiative_report(
            initiative=data["initiative"],
            dimension=data["dimension"],
            period=period,
            municipality_ids=self.scope.municipality_ids,
        )


def report_download(report: Report, file_format: str) -> HttpResponse:
    response = HttpResponse(WRITERS[file_format](report), content_type=CONTENT_TYPES[file_format])
    name = report_file_name(report, file_format)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the page --------------------------------------------------------------------------------


def report_view(request: HttpRequest) -> HttpResponse:
    scope = request_report_scope(request)
    if not scope.allowed:
        raise PermissionDenied
    submitted = any(name in request.GET for name in ("initiative", "dimension", "funder"))
    form = ReportForm(request.GET if submitted else None, scope=scope)
    report = form.report() if submitted and form.is_valid() else None
    file_format = request.GET.get("formato", "")
    if report is not None and file_format in FORMATS:
        return report_download(report, file_format)
    downloads = []
    if report is not None:
        query = {key: value for key, value in request.GET.items() if key != "formato"}
        downloads = [
            (label, f"{reverse('admin-reports')}?{urlencode({**query, 'formato': key})}")
            for key, label in (("csv", "CSV"), ("xlsx", "XLSX"), ("pdf", "PDF"))
        ]
    table = None
    if report is not None:
        table = {
            "label": row_label_header(report),
            "columns": report.columns,
            "rows": [
                (row.label, [shown(row.figures[c.key], c.money) for c in report.columns])
                for row in report.rows
            ],
            "totals": [shown(report.totals[c.key], c.money) for c in report.columns],
        }
    context = {
        **admin.site.each_context(request),
        "title": _("Rendicontazione"),
        "form": form,
        "report": report,
        "table": table,
        "period": period_label(report.period) if report else "",
        "generated": generated_label(report) if report else "",
        "downloads": downloads,
        "media": form.media,
    }
    return TemplateResponse(request, "admin/reports/report.html", context)


report_page = admin.site.admin_view(report_view)
