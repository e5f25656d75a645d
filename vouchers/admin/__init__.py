"""Admin of calls; the package's other modules hold the rest of the programme's admin.

Vouchers are ledger-backed: nobody edits or deletes them by hand. Issuing, revoking and
expiring go through ``vouchers.services``; the shop side of a voucher (its redemptions) is
added by ``merchants.admin``, which builds on this app and not the other way round.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.views import ChangeList
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin.toolkit import (
    EURO_AMOUNTS,
    LABELLED_DATETIME,
    account_total_for,
    action_form_page,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
)
from core.errors import DomainError
from core.forms import EuroField
from core.money import ZERO, InvalidAmount
from core.selectors import fund_balance
from vouchers.admin.amendments import InitiativeAmendmentsMixin
from vouchers.admin.imports import InitiativeImportMixin
from vouchers.admin.initiative_inlines import InitiativeDocumentInline, OutcomeTemplateInline
from vouchers.admin.issuing import InitiativeIssuingMixin
from vouchers.admin.outcomes import InitiativeOutcomesMixin
from vouchers.admin.phases import InitiativePhasesMixin
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_initiatives,
)
from vouchers.admin.waiting_list import InitiativeWaitingListMixin, suggest_waiting_list
from vouchers.models import Initiative, SpendingCategory, Voucher
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.scope import initiative_voucher_figures
from vouchers.services.budget import initiative_assign_budget

INITIATIVE_STATUS_VARIANTS = {
    Initiative.Status.DRAFT: "info",
    Initiative.Status.PUBLISHED: "primary",
    Initiative.Status.CLOSED: "warning",
    Initiative.Status.RANKED: "warning",
    Initiative.Status.ISSUED: "success",
    Initiative.Status.ARCHIVED: "info",
}


class InitiativeMunicipalityFilter(ScopedRelatedDropdownFilter):
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


class InitiativeChangeList(ChangeList):
    def get_filters(self, request):
        specs, has_filters, remaining, _duplicates, active = super().get_filters(request)
        # The only filter across a many-to-many relation is InitiativeMunicipalityFilter, which
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


# Registered once, by the composition root (config/admin.py), with what the apps above add.
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
        ("municipalities", InitiativeMunicipalityFilter),
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
        return InitiativeChangeList

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
        return initiative_voucher_figures().get(obj.pk, {}).get("issued", 0)

    @display(description=_("buoni attivi"))
    def active_count(self, obj):
        return initiative_voucher_figures().get(obj.pk, {}).get("active", 0)

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


# The programme's other admins, each registered by its own module.
from vouchers.admin import applications as _applications  # noqa: E402, F401
from vouchers.admin import beneficiaries as _beneficiaries  # noqa: E402, F401
from vouchers.admin import funding as _funding  # noqa: E402, F401
from vouchers.admin import reimbursements as _reimbursements  # noqa: E402, F401
from vouchers.admin import transfers as _transfers  # noqa: E402, F401
from vouchers.admin import vouchers as _vouchers  # noqa: E402, F401
