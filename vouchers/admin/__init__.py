"""Admin of calls, beneficiaries and vouchers.

Vouchers are ledger-backed: nobody edits or deletes them by hand. Issuing, revoking and
expiring go through ``vouchers.services``; the shop side of a voucher (its redemptions) is
added by ``merchants.admin``, which builds on this app and not the other way round.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.db.models import Count, DecimalField, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.views import ChangeList
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin import (
    EURO_AMOUNTS,
    LABELLED_DATETIME,
    ConfirmForm,
    DayRangeFilter,
    LedgerReadOnlyMixin,
    ReasonForm,
    account_total_for,
    action_form_page,
    bound_if_confirmed,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
    status_badge,
)
from core.errors import DomainError
from core.forms import EuroField
from core.models import Posting
from core.money import ZERO, InvalidAmount
from core.paginator import CappedCountPaginator
from core.selectors import fund_balance
from vouchers.access import access_code_issue
from vouchers.admin.amendments import InitiativeAmendmentsMixin
from vouchers.admin.exports import BeneficiaryResource, ExportAdminMixin, VoucherResource
from vouchers.admin.imports import InitiativeImportMixin
from vouchers.admin.issuing import MAX_PRINTED_VOUCHERS, InitiativeIssuingMixin
from vouchers.admin.outcomes import InitiativeOutcomesMixin
from vouchers.admin.phases import (
    InitiativeDocumentInline,
    InitiativePhasesMixin,
    OutcomeTemplateInline,
    pdf_response,
)
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    page_request,
    request_scope,
    visible_applications,
    visible_beneficiaries,
    visible_initiatives,
    visible_vouchers,
)
from vouchers.admin.waiting_list import InitiativeWaitingListMixin, suggest_waiting_list
from vouchers.models import Beneficiary, Initiative, SpendingCategory, Voucher
from vouchers.printing import printable_vouchers, vouchers_pdf
from vouchers.selectors import voucher_ledger_balance
from vouchers.services import (
    initiative_assign_budget,
    initiative_budget_available,
    voucher_revoke,
    vouchers_expire_due,
)

VOUCHER_STATUS_VARIANTS = {
    Voucher.Status.ACTIVE: "success",
    Voucher.Status.EXHAUSTED: "info",
    Voucher.Status.EXPIRED: "warning",
    Voucher.Status.REVOKED: "danger",
}
INITIATIVE_STATUS_VARIANTS = {
    Initiative.Status.DRAFT: "info",
    Initiative.Status.PUBLISHED: "primary",
    Initiative.Status.CLOSED: "warning",
    Initiative.Status.RANKED: "warning",
    Initiative.Status.ISSUED: "success",
    Initiative.Status.ARCHIVED: "info",
}
# A bulk action lists every selected row on its confirmation page; past this many, staff
# narrow the selection with the filters first.
MAX_BULK_SELECTION = 1000


# The calls list shows figures that read every voucher: they are computed for all calls at
# once and kept this long, rather than counted per row on every page.
CALL_FIGURES_SECONDS = 5 * 60


def call_voucher_figures(*, refresh: bool = False) -> dict[int, dict[str, int]]:
    """Vouchers issued and active per call, for the calls list (kept a few minutes)."""
    figures = None if refresh else cache.get("admin:calls:vouchers")
    if figures is None:
        figures = {}
        for row in (
            Voucher.objects.order_by().values("initiative_id", "status").annotate(count=Count("pk"))
        ):
            call = figures.setdefault(row["initiative_id"], {"issued": 0, "active": 0})
            call["issued"] += row["count"]
            if row["status"] == Voucher.Status.ACTIVE:
                call["active"] += row["count"]
        cache.set("admin:calls:vouchers", figures, CALL_FIGURES_SECONDS)
    return figures


class CallMunicipalityFilter(ScopedRelatedDropdownFilter):
    """The calls of a municipality, read from the calls' municipalities table.

    A join would repeat a joint call once per municipality and make the list add
    ``DISTINCT`` to every query: the calls are looked up by id instead.
    """

    def queryset(self, request, queryset):
        value = self.value()
        if value in (None, ""):
            return queryset
        if not str(value).isdigit():
            raise IncorrectLookupParameters(value)  # the list says "wrong filter", shows all
        through = Initiative.municipalities.through.objects.filter(organization_id=int(value))
        return queryset.filter(pk__in=through.values("initiative_id"))


class CallChangeList(ChangeList):
    def get_filters(self, request):
        specs, has_filters, remaining, _duplicates, active = super().get_filters(request)
        # The only filter across a many-to-many relation is CallMunicipalityFilter, which
        # never repeats a row.
        return specs, has_filters, remaining, False, active


@admin.register(SpendingCategory)
class SpendingCategoryAdmin(ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# --- calls -------------------------------------------------------------------------------


class BudgetForm(forms.Form):
    amount = EuroField(
        label=_("Importo da assegnare (€)"),
        min_value=Decimal("0.01"),
        widget=UnfoldAdminTextInputWidget,
    )


@admin.register(Initiative)
class InitiativeAdmin(
    InitiativeAmendmentsMixin,
    ScopedAdminMixin,
    InitiativePhasesMixin,
    InitiativeIssuingMixin,
    InitiativeOutcomesMixin,
    InitiativeWaitingListMixin,
    InitiativeImportMixin,
    SimpleHistoryAdmin,
    ModelAdmin,
):
    list_display = [
        "title",
        "status_display",
        "face_value_display",
        "budget_display",
        "issued_count",
        "active_count",
        "valid_from",
        "valid_until",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("benefit_kind", ChoicesDropdownFilter),
        ("fund", ScopedRelatedDropdownFilter),
        ("municipalities", CallMunicipalityFilter),
        "partial_allowed",
    ]
    search_fields = ["title"]
    list_select_related = ["fund"]
    filter_horizontal = ["municipalities", "allowed_categories"]
    formfield_overrides = {**LABELLED_DATETIME, **EURO_AMOUNTS}
    fieldsets = [
        (
            _("Bando"),
            {
                "classes": ["tab"],
                "fields": [
                    "title",
                    "description",
                    "status",
                    "benefit_kind",
                    ("applications_open_at", "applications_close_at"),
                    "municipalities",
                    "responsible_officer",
                ],
            },
        ),
        (
            _("Buono"),
            {
                "classes": ["tab"],
                "fields": [
                    "face_value",
                    "partial_allowed",
                    ("valid_from", "valid_until"),
                    "allowed_categories",
                ],
            },
        ),
        (
            _("Requisiti"),
            {
                "classes": ["tab"],
                "fields": [
                    "residency_required",
                    "max_isee",
                    ("min_household_size", "max_household_size"),
                    ("min_children", "child_min_age", "child_max_age"),
                    "declarations",
                ],
            },
        ),
        (
            _("Importi e graduatoria"),
            {
                "classes": ["tab"],
                "fields": [
                    "amount_rule",
                    ("amount_base", "amount_per_member", "amount_per_child"),
                    "amount_cap",
                    "ranking_criteria",
                ],
            },
        ),
        (
            _("Soldi e buoni"),
            {
                "classes": ["tab"],
                "fields": [
                    "fund",
                    "planned_budget",
                    "budget_detail",
                    "vouchers_detail",
                    "issuance_detail",
                ],
            },
        ),
        (_("Domande"), {"classes": ["tab"], "fields": ["applications_detail"]}),
        (_("Rettifiche"), {"classes": ["tab"], "fields": ["amendments_detail"]}),
    ]
    # The status changes only through the buttons of the phases (one service each); the
    # rules of a published call only by amendment (``InitiativeAmendmentsMixin``).
    readonly_fields = [
        "status",
        "budget_detail",
        "vouchers_detail",
        "issuance_detail",
        "applications_detail",
        "amendments_detail",
    ]
    inlines = [InitiativeDocumentInline, OutcomeTemplateInline]
    actions = [
        "publish_initiatives",
        "close_initiatives",
        "rank_initiatives",
        "issue_run_initiatives",
        "notify_initiatives",
        "archive_initiatives",
        "issue_residents",
    ]
    actions_detail = [
        "publish_detail",
        "close_detail",
        "rank_detail",
        "issue_run_detail",
        "archive_detail",
        "amend_detail",
        {"title": _("Domande"), "icon": "inbox", "items": ["import_applications_detail"]},
        {
            "title": _("Esiti e stampe"),
            "icon": "print",
            "items": ["notify_detail", "letters_detail", "print_vouchers_detail"],
        },
        {
            "title": _("Budget e buoni"),
            "icon": "savings",
            "items": ["assign_budget_detail", "issue_residents_detail"],
        },
        {
            "title": _("Lista d'attesa"),
            "icon": "format_list_numbered",
            "items": ["waiting_list_propose_detail", "waiting_list_approve_detail"],
        },
    ]

    def has_delete_permission(self, request, obj=None):
        # A call owns ledger accounts (its budget, its vouchers in circulation): it is
        # archived, never deleted.
        return False

    def scoped_queryset(self, request):
        return visible_initiatives(request)

    def get_changelist(self, request, **kwargs):
        return CallChangeList

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(budget=account_total_for("initiative:", ":budget"))
        )

    @display(description=_("stato"), label=INITIATIVE_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("valore del buono"), ordering="face_value")
    def face_value_display(self, obj):
        return euro(obj.face_value)

    @display(description=_("budget disponibile"), ordering="budget")
    def budget_display(self, obj):
        return euro(obj.budget if obj.budget is not None else ZERO)

    @display(description=_("buoni emessi"))
    def issued_count(self, obj):
        return call_voucher_figures().get(obj.pk, {}).get("issued", 0)

    @display(description=_("buoni attivi"))
    def active_count(self, obj):
        return call_voucher_figures().get(obj.pk, {}).get("active", 0)

    @display(description=_("budget disponibile"))
    def budget_detail(self, obj):
        if obj.pk is None:
            return "—"
        return euro(initiative_budget_available(initiative=obj))

    @display(description=_("buoni"))
    def vouchers_detail(self, obj):
        if obj.pk is None:
            return "—"
        url = changelist_url(Voucher, initiative__id__exact=obj.pk)
        counts = Voucher.objects.filter(initiative=obj).aggregate(
            issued=Count("pk"), active=Count("pk", filter=Q(status=Voucher.Status.ACTIVE))
        )
        text = _("%(issued)s emessi, %(active)s attivi") % counts
        return format_html(
            '{} · <a href="{}" class="text-link">{}</a>', text, url, _("vedi i buoni")
        )

    @action(
        description=_("Assegna budget dal fondo"),
        url_path="assegna-budget",
        icon="savings",
        permissions=["budget"],
    )
    def assign_budget_detail(self, request, object_id):
        initiative = self.get_object(request, unquote(object_id))
        if initiative is None:
            raise Http404
        form = BudgetForm(request.POST if is_confirmed(request) else None)
        if form.is_valid():
            try:
                initiative_assign_budget(
                    initiative=initiative,
                    amount=form.cleaned_data["amount"],
                    assigned_by=request.user,
                )
            except (DomainError, InvalidAmount) as exc:
                detail = getattr(exc, "detail", None) or _(
                    "Importo non valido: scrivi un importo in euro maggiore di zero."
                )
                form.add_error("amount", detail)
            else:
                self.message_user(
                    request,
                    _("Assegnati %(amount)s al bando.")
                    % {"amount": euro(form.cleaned_data["amount"])},
                    messages.SUCCESS,
                )
                suggest_waiting_list(self, request, [initiative.pk])
                return HttpResponseRedirect(change_url(initiative))
        return action_form_page(
            request,
            self,
            title=_("Assegna budget dal fondo"),
            form=form,
            summary=[
                (_("Fondo"), initiative.fund),
                (_("Disponibile nel fondo"), euro(fund_balance(fund_id=initiative.fund_id))),
                (
                    _("Budget già disponibile nel bando"),
                    euro(initiative_budget_available(initiative=initiative)),
                ),
            ],
            submit_label=_("Assegna"),
            obj=initiative,
        )


# --- beneficiaries -----------------------------------------------------------------------


@admin.register(Beneficiary)
class BeneficiaryAdmin(ScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin, ExportAdminMixin):
    list_display = [
        "last_name",
        "first_name",
        "fiscal_code",
        "municipality",
        "vouchers_count",
        "has_app",
    ]
    list_filter = [("municipality", ScopedRelatedDropdownFilter)]
    search_fields = ["last_name", "first_name", "=fiscal_code", "email"]
    list_select_related = ["municipality"]
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": [("first_name", "last_name"), "fiscal_code", "municipality"]}),
        (_("Contatti"), {"fields": ["email", "phone", "user", "access_code_detail"]}),
        (_("Domande"), {"fields": ["applications_detail"]}),
        (_("Buoni"), {"fields": ["vouchers_detail"]}),
    ]
    readonly_fields = ["access_code_detail", "applications_detail", "vouchers_detail"]
    show_full_result_count = False
    resource_classes = [BeneficiaryResource]
    actions_detail = ["access_code_issue_detail"]

    def scoped_queryset(self, request):
        return visible_beneficiaries(request)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm("auth.view_user"):
            # Linking an app account means choosing among every user: not the desk's job.
            readonly.append("user")
        return readonly

    def has_access_code_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_beneficiary")

    def get_queryset(self, request):
        count = Subquery(
            Voucher.objects.filter(beneficiary=OuterRef("pk"))
            .order_by()
            .values("beneficiary")
            .annotate(count=Count("pk"))
            .values("count")[:1],
            output_field=IntegerField(),
        )
        return super().get_queryset(request).annotate(held_vouchers=Coalesce(count, Value(0)))

    @display(description=_("buoni"), ordering="held_vouchers")
    def vouchers_count(self, obj):
        return obj.held_vouchers

    @display(description=_("usa l'app"), boolean=True)
    def has_app(self, obj):
        return obj.user_id is not None

    @display(description=_("codice di accesso"))
    def access_code_detail(self, obj):
        if obj.pk is None or not obj.access_code_hash:
            return _("Nessun codice stampato: si genera col pulsante «Genera codice di accesso».")
        return _("Codice stampato consegnato (se è stato perso, generane uno nuovo).")

    @display(description=_("domande"))
    def applications_detail(self, obj):
        if obj.pk is None:
            return "—"
        request = page_request()
        applications = obj.applications.select_related("initiative").order_by("-submitted_at")
        if request is not None:
            applications = applications.filter(pk__in=visible_applications(request).values("pk"))
        rows = [
            [
                format_html(
                    '<a href="{}" class="text-link">{}</a>',
                    change_url(application),
                    application.protocol_number,
                ),
                application.initiative,
                application.get_status_display(),
                application.outcome_label,
            ]
            for application in applications[:50]
        ]
        return render_to_string(
            "unfold/components/table.html",
            {
                "table": {
                    "headers": [_("Protocollo"), _("Bando"), _("Stato"), _("Esito")],
                    "rows": rows,
                }
            },
        )

    @action(
        description=_("Genera codice di accesso"),
        url_path="codice-accesso",
        icon="password",
        permissions=["access_code"],
    )
    def access_code_issue_detail(self, request, object_id):
        beneficiary = self.get_object(request, unquote(object_id))
        if beneficiary is None:
            raise Http404
        if not is_confirmed(request):
            return action_form_page(
                request,
                self,
                title=_("Nuovo codice di accesso"),
                description=_(
                    "Il codice permette a chi non ha l'e-mail di entrare nell'app con il "
                    "codice fiscale. Sarà mostrato una sola volta, da stampare e consegnare; "
                    "il codice precedente smette di funzionare."
                ),
                form=ConfirmForm(),
                summary=[
                    (_("Beneficiario"), beneficiary.full_name),
                    (_("Codice fiscale"), beneficiary.fiscal_code),
                    (_("Comune"), beneficiary.municipality),
                ],
                submit_label=_("Genera il codice"),
                obj=beneficiary,
            )
        raw_code = access_code_issue(beneficiary=beneficiary)
        response = TemplateResponse(
            request,
            "admin/buonocomune/access_code_created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": beneficiary,
                "title": _("Codice di accesso"),
                "beneficiary": beneficiary,
                "access_code": raw_code,
                "back_url": change_url(beneficiary),
            },
        )
        # The code is in this answer only: no browser or proxy may keep a copy.
        response["Cache-Control"] = "no-store"
        return response

    @display(description=_("buoni"))
    def vouchers_detail(self, obj):
        # A table rather than an inline: an inline titles each row with the voucher's
        # whole code, which lists must not show.
        if obj.pk is None:
            return "—"
        vouchers = obj.vouchers.select_related("initiative").order_by("-issued_at", "-pk")[:50]
        return voucher_table(vouchers)


# --- vouchers ----------------------------------------------------------------------------


def voucher_link(voucher: Voucher) -> str:
    """A link to a voucher that shows only the end of its code."""
    return format_html(
        '<a href="{}" class="text-link">{}</a>', change_url(voucher), voucher.code_hint
    )


def voucher_table(vouchers) -> str:
    return render_to_string(
        "unfold/components/table.html",
        {
            "table": {
                "headers": [_("Codice"), _("Bando"), _("Saldo"), _("Stato"), _("Valido fino al")],
                "rows": [
                    [
                        voucher_link(voucher),
                        voucher.initiative,
                        euro(voucher.balance),
                        status_badge(
                            voucher.get_status_display(), VOUCHER_STATUS_VARIANTS[voucher.status]
                        ),
                        voucher.valid_until.strftime("%d/%m/%Y"),
                    ]
                    for voucher in vouchers
                ],
            }
        },
    )


@admin.register(Voucher)
class VoucherAdmin(ScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin, ExportAdminMixin):
    list_display = [
        "code_hint_display",
        "beneficiary",
        "initiative",
        "balance_display",
        "face_value_display",
        "status_display",
        "valid_until",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("initiative", ScopedRelatedDropdownFilter),
        ("beneficiary__municipality", ScopedRelatedDropdownFilter),
        "medium",
        ("valid_until", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = [
        "beneficiary__last_name",
        "beneficiary__first_name",
        "=beneficiary__fiscal_code",
    ]
    search_help_text = _(
        "Cognome, nome o codice fiscale dell'intestatario, oppure le ultime 4 o 5 "
        "lettere del codice del buono."
    )
    list_select_related = ["beneficiary", "initiative"]
    fieldsets = [
        (
            _("Buono"),
            {
                "fields": [
                    "grouped_code_display",
                    "qr_display",
                    "status_detail",
                    "balance_detail",
                    "face_value_display",
                    "partial_allowed",
                    "medium",
                ]
            },
        ),
        (_("Intestatario e bando"), {"fields": ["beneficiary", "initiative", "application"]}),
        (
            _("Validità"),
            {"fields": ["valid_from", "valid_until", "issued_at", "closed_at", "closed_reason"]},
        ),
        (_("Contabilità"), {"fields": ["postings_detail"]}),
    ]
    readonly_fields = [
        "grouped_code_display",
        "qr_display",
        "status_detail",
        "balance_detail",
        "face_value_display",
        "postings_detail",
    ]
    show_full_result_count = False
    paginator = CappedCountPaginator
    resource_classes = [VoucherResource]
    actions = ["print_vouchers", "revoke_vouchers"]
    actions_detail = ["revoke_detail"]
    actions_list = ["expire_due"]

    def scoped_queryset(self, request):
        return visible_vouchers(request)

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_voucher")

    def has_expire_permission(self, request, obj=None):
        # Expiring works on every municipality's vouchers at once (as the nightly task does):
        # only for those who see them all.
        return (
            request.user.has_perm("vouchers.change_voucher") and request_scope(request).everything
        )

    def has_print_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_voucher")

    @action(description=_("Stampa buoni selezionati"), permissions=["print"])
    def print_vouchers(self, request, queryset):
        active = queryset.filter(status=Voucher.Status.ACTIVE)
        count = active.count()
        if not count:
            self.message_user(
                request,
                _("Tra i buoni scelti non ce n'è nessuno attivo da stampare."),
                messages.INFO,
            )
            return None
        if count > MAX_PRINTED_VOUCHERS:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d buoni da stampare.")
                % {"max": MAX_PRINTED_VOUCHERS},
                messages.ERROR,
            )
            return None
        return pdf_response(vouchers_pdf(printable_vouchers(active)), "buoni.pdf")

    def get_search_results(self, request, queryset, search_term):
        """Also find a voucher by the last characters of its code, as lists show them.

        The whole code is a bearer secret and must not travel in URLs, so only its end
        (four or five characters) is searched.
        """
        filtered = queryset  # the list's filters are already applied
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lstrip("…").upper()
        if 4 <= len(term) <= 5 and term.isalnum():
            queryset |= filtered.filter(code__endswith=term)
        return queryset, may_have_duplicates

    # Lists.

    @display(description=_("codice"))
    def code_hint_display(self, obj):
        return obj.code_hint

    @display(description=_("saldo"), ordering="balance")
    def balance_display(self, obj):
        return euro(obj.balance)

    @display(description=_("valore"), ordering="face_value")
    def face_value_display(self, obj):
        return euro(obj.face_value)

    @display(description=_("stato"), label=VOUCHER_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    # Detail.

    @display(description=_("codice"))
    def grouped_code_display(self, obj):
        return format_html(
            '<span class="text-important text-lg" style="font-family: ui-monospace, '
            'SFMono-Regular, Menlo, monospace; letter-spacing: .08em">{}</span>',
            obj.grouped_code,
        )

    @display(description=_("QR"))
    def qr_display(self, obj):
        svg = reverse("vouchers:voucher-qr", kwargs={"voucher_id": obj.pk, "image_format": "svg"})
        png = reverse("vouchers:voucher-qr", kwargs={"voucher_id": obj.pk, "image_format": "png"})
        return format_html(
            '<img src="{}" alt="{}" width="180" height="180" class="bg-white p-2 rounded-default">'
            '<a href="{}" class="text-link text-xs" download>{}</a>',
            svg,
            _("QR del buono"),
            png,
            _("Scarica il QR (PNG)"),
        )

    @display(description=_("stato"))
    def status_detail(self, obj):
        badge = status_badge(obj.get_status_display(), VOUCHER_STATUS_VARIANTS[obj.status])
        if obj.closed_reason:
            return format_html("{} {}", badge, obj.closed_reason)
        return badge

    @display(description=_("saldo"))
    def balance_detail(self, obj):
        ledger = voucher_ledger_balance(voucher_id=obj.pk)
        if ledger == obj.balance:
            return format_html(
                '<span class="font-semibold text-important">{}</span> '
                '<span class="text-subtle text-xs">{}</span>',
                euro(obj.balance),
                _("(uguale al saldo in contabilità)"),
            )
        return format_html(
            '<span class="font-semibold text-important">{}</span> {}',
            euro(obj.balance),
            status_badge(
                _("in contabilità: %(ledger)s") % {"ledger": euro(ledger)},
                "danger",
            ),
        )

    @display(description=_("movimenti del buono"))
    def postings_detail(self, obj):
        postings = (
            Posting.objects.filter(
                account__key=f"initiative:{obj.initiative_id}:outstanding", voucher_ref=obj.pk
            )
            .select_related("journal")
            .order_by("journal_id", "id")[:100]
        )
        rows = []
        for posting in postings:
            journal_url = reverse("admin:core_journal_change", args=[posting.journal_id])
            rows.append(
                [
                    format_html(
                        '<a href="{}" class="text-link">#{}</a>', journal_url, posting.journal_id
                    ),
                    timezone.localtime(posting.journal.created_at).strftime("%d/%m/%Y %H:%M"),
                    posting.journal.get_kind_display(),
                    posting.journal.memo,
                    euro(posting.amount),
                ]
            )
        return render_to_string(
            "unfold/components/table.html",
            {
                "table": {
                    "headers": [
                        _("Registrazione"),
                        _("Data"),
                        _("Tipo"),
                        _("Descrizione"),
                        _("Importo sul buono"),
                    ],
                    "rows": rows,
                }
            },
        )

    # Actions.

    def _revoke(self, request, vouchers, reason: str) -> None:
        revoked = 0
        for voucher in vouchers:
            try:
                voucher_revoke(voucher=voucher, reason=reason, revoked_by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{voucher.code_hint}: {exc.detail}", messages.ERROR)
            else:
                revoked += 1
        if revoked:
            self.message_user(
                request,
                ngettext("%(count)d buono revocato.", "%(count)d buoni revocati.", revoked)
                % {"count": revoked},
                messages.SUCCESS,
            )
            suggest_waiting_list(self, request, [voucher.initiative_id for voucher in vouchers])

    def _vouchers_table(self, vouchers) -> dict:
        return {
            "headers": [_("Codice"), _("Intestatario"), _("Bando"), _("Saldo"), _("Stato")],
            "rows": [
                [
                    voucher.code_hint,
                    voucher.beneficiary,
                    voucher.initiative,
                    euro(voucher.balance),
                    status_badge(
                        voucher.get_status_display(), VOUCHER_STATUS_VARIANTS[voucher.status]
                    ),
                ]
                for voucher in vouchers
            ],
        }

    @action(description=_("Revoca i buoni selezionati"), permissions=["revoke"])
    def revoke_vouchers(self, request, queryset):
        vouchers = list(
            queryset.select_related("beneficiary", "initiative").order_by("pk")[
                : MAX_BULK_SELECTION + 1
            ]
        )
        if len(vouchers) > MAX_BULK_SELECTION:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d buoni alla volta.") % {"max": MAX_BULK_SELECTION},
                messages.ERROR,
            )
            return None
        form = bound_if_confirmed(ReasonForm, request)
        if form.is_valid():
            self._revoke(request, vouchers, form.cleaned_data["reason"])
            return None
        return action_form_page(
            request,
            self,
            title=_("Revoca dei buoni"),
            description=_(
                "Il buono revocato non si può più spendere; il saldo residuo torna al budget "
                "del bando."
            ),
            form=form,
            table=self._vouchers_table(vouchers),
            submit_label=_("Revoca"),
            bulk_action="revoke_vouchers",
            selected=[voucher.pk for voucher in vouchers],
            danger=True,
        )

    @action(
        description=_("Revoca"),
        url_path="revoca",
        icon="block",
        variant=ActionVariant.DANGER,
        permissions=["revoke"],
    )
    def revoke_detail(self, request, object_id):
        voucher = self.get_object(request, unquote(object_id))
        if voucher is None:
            raise Http404
        form = bound_if_confirmed(ReasonForm, request)
        if form.is_valid():
            try:
                voucher_revoke(
                    voucher=voucher, reason=form.cleaned_data["reason"], revoked_by=request.user
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, _("Buono revocato."), messages.SUCCESS)
                suggest_waiting_list(self, request, [voucher.initiative_id])
                return HttpResponseRedirect(change_url(voucher))
        return action_form_page(
            request,
            self,
            title=_("Revoca del buono"),
            description=_(
                "Il buono revocato non si può più spendere; il saldo residuo torna al budget "
                "del bando."
            ),
            form=form,
            table=self._vouchers_table([voucher]),
            submit_label=_("Revoca"),
            obj=voucher,
            danger=True,
        )

    @action(
        description=_("Fai scadere i buoni scaduti"),
        url_path="scadenze",
        icon="event_busy",
        permissions=["expire"],
    )
    def expire_due(self, request):
        if is_confirmed(request):
            count = vouchers_expire_due()
            self.message_user(
                request,
                ngettext(
                    "%(count)d buono scaduto: il saldo residuo è tornato al bando.",
                    "%(count)d buoni scaduti: il saldo residuo è tornato ai bandi.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(changelist_url(Voucher))
        due = Voucher.objects.filter(
            valid_until__lt=timezone.localdate(), status=Voucher.Status.ACTIVE
        ).aggregate(
            count=Count("pk"),
            residual=Coalesce(
                Sum("balance"),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
        return action_form_page(
            request,
            self,
            title=_("Fai scadere i buoni scaduti"),
            description=_(
                "I buoni attivi con validità finita prima di oggi diventano scaduti; il loro "
                "saldo residuo torna al budget del bando."
            ),
            form=ConfirmForm(),
            cancel_url=changelist_url(Voucher),
            summary=[
                (_("Buoni da far scadere"), due["count"]),
                (_("Saldo residuo"), euro(due["residual"])),
            ],
            submit_label=_("Fai scadere"),
        )


# The applications of calls: registered by their own module, which uses the helpers above.
from vouchers.admin import applications as _applications  # noqa: E402, F401
from vouchers.admin import funding as _funding  # noqa: E402, F401
from vouchers.admin import reimbursements as _reimbursements  # noqa: E402, F401
