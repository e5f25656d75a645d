"""Funding sources of calls, and the report of where each funder's money went.

Sources are added through ``vouchers.funding.initiative_funding_assign`` (never saved by
hand). The funder's report refreshes the attribution first, then shows, per call, the
shops, categories and municipalities reached, with CSV and XLSX downloads. A funder sees
only his own contributions, a fund manager those of his funds, the agency all of them.
"""

import io
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminSingleDateWidget

from core.admin.toolkit import EURO_AMOUNTS, action_form_page, changelist_url, euro, is_confirmed
from core.days import day_validators
from core.errors import DomainError
from core.models import Contribution, Membership, Organization, Role
from core.money import CENT, ZERO
from core.selectors import funds_for
from core.spreadsheets import MONEY_FORMAT, csv_bytes, file_name
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    request_scope,
    visible_initiatives,
)
from vouchers.funding import (
    GROUPS,
    ReachRow,
    funder_reach,
    initiative_funding_assign,
    initiative_set_attribution_rule,
)
from vouchers.models import FundingAttribution, Initiative, InitiativeFunding

# --- who may read which contributions ----------------------------------------------------


def visible_contributions(request: HttpRequest) -> QuerySet[Contribution]:
    """The contributions whose use a staff user may read.

    The agency sees all; a fund manager those of the funds his organisations manage; a
    funder those of his own organisations; anybody else none.
    """
    scope = request_scope(request)
    if scope.everything:
        return Contribution.objects.all()
    visible = Q(pk__in=[])
    memberships = Membership.objects.filter(user_id=scope.user_id)
    if Role.FUND_MANAGER in scope.roles:
        managed = memberships.filter(role=Role.FUND_MANAGER).values("organization_id")
        visible |= Q(fund__manager__in=managed)
    if Role.FUNDER in scope.roles:
        own = memberships.filter(role=Role.FUNDER).values("organization_id")
        visible |= Q(funder__in=own)
    return Contribution.objects.filter(visible)


def sidebar_permission(request: HttpRequest) -> bool:
    """Whether the sidebar shows the funder's report: to staff with contributions to read."""
    if not request.user.is_staff:
        return False
    scope = request_scope(request)
    return scope.everything or bool({Role.FUND_MANAGER, Role.FUNDER} & set(scope.roles))


# --- funding sources ---------------------------------------------------------------------


class FundingSourceForm(forms.ModelForm):
    class Meta:
        model = InitiativeFunding
        fields = ["initiative", "contribution", "amount", "priority"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "priority" in self.fields:  # the add form; a recorded source is read-only
            self.fields["priority"].required = False
            self.fields["priority"].help_text = _(
                "Con la regola di priorità, la fonte 1 si consuma per prima. Vuoto: dopo le altre."
            )
        if "contribution" in self.fields:
            self.fields["contribution"].help_text = _(
                "Vuoto: il budget viene dal fondo del bando nel suo insieme."
            )


class AttributionRuleForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=gettext_lazy("Bando"),
        queryset=Initiative.objects.none(),
        widget=UnfoldAdminSelectWidget,
    )
    rule = forms.ChoiceField(
        label=gettext_lazy("Regola di attribuzione"),
        choices=Initiative.AttributionRule.choices,
        widget=UnfoldAdminSelectWidget,
    )


@admin.register(InitiativeFunding)
class InitiativeFundingAdmin(ScopedAdminMixin, ModelAdmin):
    """A call's sources: each a tranche of its budget, from a contribution or a fund."""

    form = FundingSourceForm
    formfield_overrides = EURO_AMOUNTS
    list_display = [
        "initiative",
        "priority",
        "origin_display",
        "funder_kind_display",
        "amount_display",
        "attributed_display",
        "assigned_at",
    ]
    list_filter = [
        ("initiative", ScopedRelatedDropdownFilter),
        ("contribution__funder__funder_kind", ChoicesDropdownFilter),
    ]
    list_select_related = ["initiative", "fund", "contribution__funder"]
    search_fields = ["initiative__title", "contribution__funder__name", "fund__name"]
    add_fields = ["initiative", "contribution", "amount", "priority"]
    detail_fields = [
        "initiative",
        "fund",
        "contribution",
        "amount",
        "priority",
        "attribution_rule_display",
        "attributed_display",
        "journal",
        "assigned_at",
        "assigned_by",
    ]
    actions_list = ["attribution_rule_set", "funder_report_link"]
    show_full_result_count = False

    def scoped_queryset(self, request):
        return InitiativeFunding.objects.filter(initiative__in=visible_initiatives(request))

    def get_queryset(self, request):
        attributed = (
            FundingAttribution.objects.filter(source=OuterRef("pk"))
            .order_by()
            .values("source")
            .annotate(total=Sum("amount"))
            .values("total")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                attributed=Subquery(
                    attributed, output_field=DecimalField(max_digits=14, decimal_places=2)
                )
            )
        )

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative") and request.user.has_perm(
            "core.view_fund"
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_initiative")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "contribution":
            kwargs["queryset"] = Contribution.objects.filter(
                fund__in=funds_for(user=request.user)
            ).select_related("funder", "fund")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            source = initiative_funding_assign(
                initiative=data["initiative"],
                contribution=data.get("contribution"),
                amount=data["amount"],
                priority=data.get("priority"),
                assigned_by=request.user,
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        obj.pk = source.pk
        obj.fund_id = source.fund_id
        obj.journal_id = source.journal_id
        obj.priority = source.priority
        obj.assigned_at = source.assigned_at
        obj._state.adding = False
        obj._state.db = source._state.db

    def log_addition(self, request, obj, message):
        if obj.pk is not None:  # nothing was recorded when the service refused
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    @display(description=_("provenienza"))
    def origin_display(self, obj):
        if obj.contribution_id is None:
            return _("Fondo %(fund)s") % {"fund": obj.fund.name}
        return f"{obj.contribution.funder.name} · {obj.contribution.document_reference or '—'}"

    @display(description=_("tipo di finanziatore"))
    def funder_kind_display(self, obj):
        if obj.contribution_id is None:
            return "—"
        funder = obj.contribution.funder
        return funder.get_funder_kind_display() or funder.get_kind_display()

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("speso e attribuito"))
    def attributed_display(self, obj):
        # SQLite sums decimals as floats: round the annotation to the cent.
        total = getattr(obj, "attributed", None)
        return euro(Decimal(str(total)).quantize(CENT) if total is not None else ZERO)

    @display(description=_("regola di attribuzione"))
    def attribution_rule_display(self, obj):
        return obj.initiative.get_attribution_rule_display()

    def has_attribution_rule_set_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative")

    @action(
        description=_("Regola di attribuzione"),
        url_path="regola-attribuzione",
        icon="rule",
        permissions=["attribution_rule_set"],
    )
    def attribution_rule_set(self, request):
        form = AttributionRuleForm(request.POST if is_confirmed(request) else None)
        form.fields["initiative"].queryset = visible_initiatives(request)
        if form.is_valid():
            initiative = form.cleaned_data["initiative"]
            try:
                initiative_set_attribution_rule(
                    initiative=initiative, rule=form.cleaned_data["rule"]
                )
            except DomainError as exc:
                form.add_error("rule", exc.detail)
            else:
                initiative.refresh_from_db()
                self.message_user(
                    request,
                    _("%(initiative)s: %(rule)s.")
                    % {
                        "initiative": initiative,
                        "rule": initiative.get_attribution_rule_display(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(changelist_url(InitiativeFunding))
        return action_form_page(
            request,
            self,
            title=_("Regola di attribuzione alle fonti"),
            description=_(
                "In proporzione: ogni euro speso si divide tra le fonti secondo gli importi "
                "assegnati. In ordine di priorità: si consuma prima la fonte 1, poi la 2… La "
                "regola si sceglie prima che la spesa del bando sia attribuita."
            ),
            form=form,
            submit_label=_("Salva"),
            cancel_url=changelist_url(InitiativeFunding),
        )

    def has_funder_report_link_permission(self, request, obj=None):
        return sidebar_permission(request)

    @action(
        description=_("Rapporto per finanziatore"),
        url_path="vai-al-rapporto",
        icon="monitoring",
        permissions=["funder_report_link"],
    )
    def funder_report_link(self, request):
        return HttpResponseRedirect(reverse("admin:vouchers_funder_reach"))

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
