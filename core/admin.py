"""Admin of the shared core: organisations, funds, contributions and the ledger.

Also the pieces every app's admin shares: the page an action shows to ask for a reason or a
confirmation before it calls a service, and the way amounts are shown. Ledger rows
(journals, postings, contributions) are never edited or deleted by hand: they change only
through services.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminTextareaWidget

from core.errors import DomainError
from core.models import Account, Contribution, Fund, Journal, Membership, Organization, Posting
from core.money import ZERO, format_euro
from core.selectors import fund_balance
from core.services import contribution_record

# --- shared by every app's admin ---------------------------------------------------------


def euro(amount: Decimal | None) -> str:
    """An amount for a list or a detail page, or a dash when there is none.

    The space after the euro sign does not break, so a narrow column never splits it.
    """
    return format_euro(amount).replace(" ", "\u00a0") if amount is not None else "—"


def status_badge(text, variant: str) -> str:
    """A coloured label (``success``, ``info``, ``warning``, ``danger``, ``primary``)."""
    return render_to_string("unfold/helpers/label.html", {"text": text, "variant": variant})


class ReasonForm(forms.Form):
    """The reason an action asks for before it changes a state."""

    reason = forms.CharField(
        label=_("Motivo"),
        max_length=255,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        error_messages={"required": _("Indica il motivo: resta nello storico.")},
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Nota (facoltativa)"),
        max_length=255,
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )


class ConfirmForm(forms.Form):
    """No fields: the page only asks to confirm."""


def is_confirmed(request: HttpRequest) -> bool:
    """Whether the request comes from the confirmation page of an action."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def bound_if_confirmed(form_class: type[forms.Form], request: HttpRequest, **kwargs):
    """The action's form, bound to the posted data once the person confirmed."""
    return form_class(request.POST if is_confirmed(request) else None, **kwargs)


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def changelist_url(model, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def action_form_page(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    *,
    title,
    form: forms.Form,
    submit_label,
    description="",
    summary: list[tuple] | None = None,
    table: dict | None = None,
    table_note="",
    obj=None,
    selected: list | None = None,
    bulk_action: str = "",
    danger: bool = False,
    cancel_url: str = "",
) -> TemplateResponse:
    """Render the page an action shows before it calls a service.

    A bulk action (``bulk_action`` and ``selected``) posts back to the change list with
    the selected rows, as Django's own confirmation pages do; an action on one object
    (``obj``) posts to its own address.
    """
    opts = model_admin.model._meta
    if not cancel_url:
        # A bulk action's page is shown at the change list's own address, filters included.
        cancel_url = change_url(obj) if obj is not None else request.get_full_path()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "description": description,
        "original": obj,
        "form": form,
        "media": model_admin.media + form.media,
        "summary": summary or [],
        "table": table,
        "table_note": table_note,
        "submit_label": submit_label,
        "bulk_action": bulk_action,
        "selected": selected or [],
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "form_action": request.get_full_path(),
        "cancel_url": cancel_url,
        "danger": danger,
    }
    return TemplateResponse(request, "admin/buonocomune/form_page.html", context)


class DayRangeFilter(RangeDateFilter):
    """unfold's date range filter, read as whole local days.

    The date inputs are written in the active language's format (``31/01/2026`` in
    Italian), which unfold's own parser reads with the settings' US formats; a date-time
    field is compared with the local midnights that bound the days, so its index is used.
    """

    def _day(self, suffix: str):
        value = self.used_parameters.get(f"{self.parameter_name}_{suffix}")
        try:
            return forms.DateField().to_python(value)
        except ValidationError:
            return None

    def queryset(self, request, queryset):
        start, end = self._day("from"), self._day("to")
        lookups = {}
        if isinstance(self.field, DateTimeField):
            if start is not None:
                lookups[f"{self.field_path}__gte"] = start_of_day(start)
            if end is not None:
                lookups[f"{self.field_path}__lt"] = start_of_day(end + timedelta(days=1))
        else:
            if start is not None:
                lookups[f"{self.field_path}__gte"] = start
            if end is not None:
                lookups[f"{self.field_path}__lte"] = end
        return queryset.filter(**lookups)


def start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class LedgerReadOnlyMixin:
    """Rows written only by services: staff may look, never add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _account_total(key_expression) -> Subquery:
    """The sum of the postings on the account whose key the expression gives."""
    return Subquery(
        Posting.objects.filter(account__key=key_expression)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def account_total_for(prefix: str, suffix: str = "") -> Subquery:
    """The balance of the account ``<prefix><outer pk><suffix>``, for list annotations."""
    parts = [Value(prefix), Cast(OuterRef("pk"), output_field=CharField())]
    if suffix:
        parts.append(Value(suffix))
    return _account_total(Concat(*parts, output_field=CharField()))


# --- people and organisations ------------------------------------------------------------

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class MembershipInline(TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "kind", "istat_code", "funder_kind", "email"]
    list_filter = [("kind", ChoicesDropdownFilter), ("funder_kind", ChoicesDropdownFilter)]
    search_fields = ["name", "istat_code"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "istat_code", "funder_kind", "email"]}),
        (_("Registrazione"), {"fields": ["created_at"]}),
    ]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]


# --- funds and contributions -------------------------------------------------------------


class ContributionInline(TabularInline):
    model = Contribution
    extra = 0
    can_delete = False
    per_page = 20
    fields = ["received_on", "funder", "amount", "document_reference"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("funder")


@admin.register(Fund)
class FundAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "manager", "balance_display", "created_at"]
    list_filter = [("manager", RelatedDropdownFilter)]
    search_fields = ["name", "manager__name"]
    list_select_related = ["manager"]
    fieldsets = [
        (None, {"fields": ["name", "manager", "description"]}),
        (_("Disponibilità"), {"fields": ["balance_detail", "created_at"]}),
    ]
    readonly_fields = ["balance_detail", "created_at"]
    inlines = [ContributionInline]
    actions_detail = ["record_contribution"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(balance=account_total_for("fund:"))

    @display(description=_("disponibile"), ordering="balance")
    def balance_display(self, obj):
        return euro(obj.balance if obj.balance is not None else ZERO)

    @display(description=_("disponibile"))
    def balance_detail(self, obj):
        if obj.pk is None:
            return "—"
        return euro(fund_balance(fund_id=obj.pk))

    def has_record_contribution_permission(self, request, obj=None):
        return request.user.has_perm("core.add_contribution")

    @action(
        description=_("Registra un contributo"),
        icon="add_card",
        url_path="registra-contributo",
        permissions=["record_contribution"],
    )
    def record_contribution(self, request, object_id):
        url = reverse("admin:core_contribution_add")
        return HttpResponseRedirect(f"{url}?{urlencode({'fund': object_id})}")


@admin.register(Contribution)
class ContributionAdmin(ModelAdmin):
    """Contributions are recorded through ``contribution_record``, never saved directly."""

    list_display = [
        "received_on",
        "funder",
        "fund",
        "amount_display",
        "document_reference",
        "journal_link",
    ]
    list_filter = [
        ("fund", RelatedDropdownFilter),
        ("funder", RelatedDropdownFilter),
        ("received_on", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = ["funder__name", "fund__name", "document_reference"]
    list_select_related = ["funder", "fund"]
    add_fields = ["fund", "funder", "amount", "received_on", "document_reference"]
    detail_fields = [*add_fields, "journal_link", "created_at"]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "funder":
            # Only a funder or a municipality puts money into a fund (the service refuses
            # any other kind); offering only those makes a wrong choice a form error.
            kwargs["queryset"] = Organization.objects.filter(
                kind__in=[Organization.Kind.FUNDER, Organization.Kind.MUNICIPALITY]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        try:
            contribution = contribution_record(
                fund=form.cleaned_data["fund"],
                funder=form.cleaned_data["funder"],
                amount=form.cleaned_data["amount"],
                received_on=form.cleaned_data["received_on"],
                document_reference=form.cleaned_data["document_reference"],
                recorded_by=request.user,
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        obj.pk = contribution.pk
        obj.amount = contribution.amount
        obj.journal_id = contribution.journal_id
        obj.created_at = contribution.created_at
        obj._state.adding = False
        obj._state.db = contribution._state.db

    def log_addition(self, request, obj, message):
        if obj.pk is not None:  # nothing was recorded when the service refused
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("registrazione"))
    def journal_link(self, obj):
        if obj.journal_id is None:
            return "—"
        url = reverse("admin:core_journal_change", args=[obj.journal_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.journal_id)


# --- the ledger --------------------------------------------------------------------------


class PostingInline(TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    per_page = 50
    fields = ["account", "amount", "voucher_ref", "merchant_ref"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account").order_by("id")


@admin.register(Journal)
class JournalAdmin(LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["id", "kind", "memo", "moved_display", "created_at", "created_by"]
    list_filter = [("kind", ChoicesDropdownFilter), ("created_at", DayRangeFilter)]
    list_filter_submit = True
    search_fields = ["memo", "=id"]
    list_select_related = ["created_by"]
    fields = ["kind", "memo", "created_at", "created_by", "moved_detail", "total_detail"]
    readonly_fields = fields
    inlines = [PostingInline]
    show_full_result_count = False

    def get_queryset(self, request):
        moved = Subquery(
            Posting.objects.filter(journal=OuterRef("pk"), amount__gt=0)
            .order_by()
            .values("journal_id")
            .annotate(total=Sum("amount"))
            .values("total")[:1],
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        return super().get_queryset(request).annotate(moved=moved)

    @display(description=_("importo movimentato"), ordering="moved")
    def moved_display(self, obj):
        return euro(obj.moved)

    @display(description=_("importo movimentato"))
    def moved_detail(self, obj):
        return euro(obj.moved)

    @display(description=_("somma delle righe"))
    def total_detail(self, obj):
        totals = obj.postings.aggregate(total=Sum("amount"), lines=Count("id"))
        total = totals["total"] if totals["total"] is not None else ZERO
        if total == ZERO:
            text = _("%(total)s: in pareggio (%(lines)s righe)") % {
                "total": euro(total),
                "lines": totals["lines"],
            }
            return format_html('<span class="text-green-700 font-semibold">{}</span>', text)
        text = _("%(total)s: NON in pareggio") % {"total": euro(total)}
        return format_html('<span class="text-red-700 font-semibold">{}</span>', text)


@admin.register(Posting)
class PostingAdmin(LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "id",
        "journal_link",
        "journal_kind",
        "account",
        "amount_display",
        "voucher_ref",
        "merchant_ref",
        "journal_created_at",
    ]
    list_filter = [
        ("account__kind", ChoicesDropdownFilter),
        ("journal__kind", ChoicesDropdownFilter),
    ]
    search_fields = ["account__key", "account__name", "=voucher_ref", "=merchant_ref"]
    list_select_related = ["journal", "account"]
    fields = ["journal", "account", "amount", "voucher_ref", "merchant_ref"]
    readonly_fields = fields
    show_full_result_count = False

    @display(description=_("registrazione"), ordering="journal_id")
    def journal_link(self, obj):
        url = reverse("admin:core_journal_change", args=[obj.journal_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.journal_id)

    @display(description=_("tipo"))
    def journal_kind(self, obj):
        return obj.journal.get_kind_display()

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("registrato il"), ordering="journal__created_at")
    def journal_created_at(self, obj):
        return obj.journal.created_at


@admin.register(Account)
class AccountAdmin(LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["key", "kind", "name", "balance_display", "postings_link"]
    list_filter = [("kind", ChoicesDropdownFilter)]
    search_fields = ["key", "name"]
    fields = ["key", "kind", "name", "balance_display", "postings_link"]
    readonly_fields = fields

    def get_queryset(self, request):
        balance = Subquery(
            Posting.objects.filter(account=OuterRef("pk"))
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values("total")[:1],
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        return super().get_queryset(request).annotate(balance=balance)

    @display(description=_("saldo"), ordering="balance")
    def balance_display(self, obj):
        return euro(obj.balance if obj.balance is not None else ZERO)

    @display(description=_("movimenti"))
    def postings_link(self, obj):
        url = changelist_url(Posting, account__id__exact=obj.pk)
        return format_html('<a href="{}" class="text-link">{}</a>', url, _("Vedi i movimenti"))
