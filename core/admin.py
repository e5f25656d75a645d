"""Admin of the shared core: organisations, funds, contributions and the ledger.

Also the pieces every app's admin shares: the page an action shows to ask for a reason or a
confirmation before it calls a service, and the way amounts are shown. Ledger rows
(journals, postings, contributions) are never edited or deleted by hand: they change only
through services.
"""

import io
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Concat
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from core.days import FIRST_DAY, LAST_DAY, start_of_day
from core.errors import DomainError
from core.forms import EuroField
from core.models import (
    Account,
    Contribution,
    Fund,
    Journal,
    Membership,
    Organization,
    PaymentBatch,
    PaymentLine,
    Posting,
)
from core.money import CENT, ZERO, format_euro
from core.paginator import BigListAdminMixin, CappedCountPaginator
from core.payments import (
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_reconcile_camt054,
    payment_batch_release,
)
from core.roles import sees_everything
from core.selectors import accounts_for, fund_balance, funds_for, journals_for, money_sum
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


class LabelledSplitDateTimeWidget(UnfoldAdminSplitDateTimeWidget):
    """Unfold's date and time boxes, each with a name a screen reader announces (the
    field's label names the pair; a placeholder is no name)."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.widgets[0].attrs["aria-label"] = _("Data")
        self.widgets[1].attrs["aria-label"] = _("Ora")


# For ``formfield_overrides`` of admins whose forms edit a date and time.
LABELLED_DATETIME = {
    DateTimeField: {"form_class": forms.SplitDateTimeField, "widget": LabelledSplitDateTimeWidget}
}


# For ``formfield_overrides`` of admins whose forms edit amounts in euros (8.500,00).
EURO_AMOUNTS = {DecimalField: {"form_class": EuroField, "widget": UnfoldAdminTextInputWidget}}


class LabelledTabularInline(TabularInline):
    """A tabular inline whose boxes carry their column's name for screen readers: the
    table's header names them for the eye, but no <label> points at them."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is None:
            return None
        widget = getattr(formfield.widget, "widget", formfield.widget)  # related wrapper
        if not widget.is_hidden and not hasattr(widget, "widgets"):
            widget.attrs.setdefault("aria-label", capfirst(db_field.verbose_name))
        return formfield


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
            day = forms.DateField().to_python(value)
        except ValidationError:
            return None
        # A day before 2000 or after 2099 bounds nothing more than those years do, and the
        # calendar's own ends have no midnight in Rome's time.
        return min(max(day, FIRST_DAY), LAST_DAY) if day is not None else None

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


class RowScopedAdminMixin(BigListAdminMixin):
    """Staff outside the agency see only the rows ``visible_rows`` gives, history included.

    Django's change page goes through ``get_queryset``; simple-history's pages would open
    any row by its id, so they are checked here.
    """

    def visible_rows(self, request):
        raise NotImplementedError

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if "_sees_everything" not in request.__dict__:  # read once per request
            request._sees_everything = sees_everything(request.user)
        if request._sees_everything:
            return rows
        return rows.filter(pk__in=self.visible_rows(request).values("pk"))

    def _visible_or_404(self, request, object_id) -> None:
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class FundDropdownFilter(RelatedDropdownFilter):
    """A filter by fund that offers only the funds the user may see."""

    def field_choices(self, field, request, model_admin):
        funds = funds_for(user=request.user).order_by("name")
        return [(fund.pk, str(fund)) for fund in funds]


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
    formfield_overrides = LABELLED_DATETIME
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class MembershipInline(LabelledTabularInline):
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


class ContributionInline(LabelledTabularInline):
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
class FundAdmin(RowScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin):
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

    def visible_rows(self, request):
        return funds_for(user=request.user)

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
        self._visible_or_404(request, object_id)
        url = reverse("admin:core_contribution_add")
        return HttpResponseRedirect(f"{url}?{urlencode({'fund': object_id})}")


@admin.register(Contribution)
class ContributionAdmin(RowScopedAdminMixin, ModelAdmin):
    """Contributions are recorded through ``contribution_record``, never saved directly."""

    formfield_overrides = EURO_AMOUNTS
    list_display = [
        "received_on",
        "funder",
        "fund",
        "amount_display",
        "document_reference",
        "journal_link",
    ]
    list_filter = [
        ("fund", FundDropdownFilter),
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

    def visible_rows(self, request):
        return Contribution.objects.filter(fund__in=funds_for(user=request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "fund":
            kwargs["queryset"] = funds_for(user=request.user)
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


class PostingInline(LabelledTabularInline):
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


def search_words(term: str) -> list[str]:
    """The words of a search, as the admin splits them (quoted phrases kept whole)."""
    words = []
    for word in smart_split(term):
        if len(word) > 1 and word[0] in "\"'" and word[0] == word[-1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


# Integers beyond this many digits are no id nor reference: compared, they would overflow.
MAX_ID_DIGITS = 18


def whole_number(word: str) -> int | None:
    """The word as an id or a reference, if it is one."""
    return int(word) if word.isascii() and word.isdigit() and len(word) <= MAX_ID_DIGITS else None


@admin.register(Journal)
class JournalAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["id", "kind", "memo", "moved_display", "created_at", "created_by"]
    list_filter = [("kind", ChoicesDropdownFilter), ("created_at", DayRangeFilter)]
    list_filter_submit = True
    search_fields = ["memo", "=id"]
    list_select_related = ["created_by"]
    fields = ["kind", "memo", "created_at", "created_by", "moved_detail", "total_detail"]
    readonly_fields = fields
    inlines = [PostingInline]
    show_full_result_count = False
    paginator = CappedCountPaginator

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

    def visible_rows(self, request):
        return journals_for(user=request.user)

    def get_search_results(self, request, queryset, search_term):
        """Find journals by memo, or by number compared as a number (not as text)."""
        for word in search_words(search_term):
            found = Q(memo__icontains=word)
            number = whole_number(word)
            if number is not None:
                found |= Q(pk=number)
            queryset = queryset.filter(found)
        return queryset, False

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
class PostingAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
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
    paginator = CappedCountPaginator

    def visible_rows(self, request):
        return Posting.objects.filter(account__in=accounts_for(user=request.user))

    def get_search_results(self, request, queryset, search_term):
        """Find postings by account, or by the voucher or shop they refer to.

        The accounts (a few hundred) are looked up first and the postings filtered by their
        ids; references are compared as numbers, within every account, so that the
        (account, reference) indexes serve (there is no index on a reference alone: every
        issue and redemption would pay for it).
        """
        every_account = None
        for word in search_words(search_term):
            accounts = Account.objects.filter(Q(key__icontains=word) | Q(name__icontains=word))
            found = Q(account_id__in=list(accounts.values_list("pk", flat=True)))
            number = whole_number(word)
            if number is not None:
                if every_account is None:
                    every_account = list(Account.objects.values_list("pk", flat=True))
                found |= Q(account_id__in=every_account, voucher_ref=number) | Q(
                    account_id__in=every_account, merchant_ref=number
                )
            queryset = queryset.filter(found)
        return queryset, False

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


ACCOUNT_BALANCES_SECONDS = 5 * 60


def recent_account_balances() -> dict[int, Decimal]:
    """Every account's balance, for the accounts list (computed at once, kept a few minutes)."""
    balances = cache.get("admin:accounts:balances")
    if balances is None:
        balances = {
            row["account_id"]: Decimal(str(row["total"] or 0)).quantize(CENT)
            for row in Posting.objects.order_by().values("account_id").annotate(total=Sum("amount"))
        }
        cache.set("admin:accounts:balances", balances, ACCOUNT_BALANCES_SECONDS)
    return balances


@admin.register(Account)
class AccountAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["key", "kind", "name", "recent_balance_display", "postings_link"]
    list_filter = [("kind", ChoicesDropdownFilter)]
    search_fields = ["key", "name"]
    fields = ["key", "kind", "name", "balance_display", "postings_link"]
    readonly_fields = fields

    def visible_rows(self, request):
        return accounts_for(user=request.user)

    def get_object(self, request, object_id, from_field=None):
        account = super().get_object(request, object_id, from_field)
        if account is not None:
            account.exact_balance = money_sum(account.postings.all())
        return account

    @display(description=_("saldo"))
    def balance_display(self, obj):
        return euro(getattr(obj, "exact_balance", ZERO))

    @display(description=_("saldo (di pochi minuti fa)"))
    def recent_balance_display(self, obj):
        # Summing the postings of a call's vouchers in circulation takes long: the list
        # shows the balances of every account computed at once and kept a few minutes; the
        # account's page shows it exact.
        return euro(recent_account_balances().get(obj.pk, ZERO))

    @display(description=_("movimenti"))
    def postings_link(self, obj):
        url = changelist_url(Posting, account__id__exact=obj.pk)
        return format_html('<a href="{}" class="text-link">{}</a>', url, _("Vedi i movimenti"))


# --- payment batches ---------------------------------------------------------------------


class AgencyOnlyMixin:
    """Rows that are agency matters: superusers and agency admins see them, others nothing.

    Anyone else gets an empty list, and a 404 for a row opened by its address.
    """

    def sees_everything(self, request) -> bool:
        return sees_everything(request.user)

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if self.sees_everything(request) else rows.none()

    def _visible_or_404(self, request, object_id) -> None:
        if object_id and not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)


PAYMENT_BATCH_STATUS_VARIANTS = {
    PaymentBatch.Status.PREPARED: "info",
    PaymentBatch.Status.RELEASED: "primary",
    PaymentBatch.Status.EXPORTED: "warning",
    PaymentBatch.Status.PAID: "success",
    PaymentBatch.Status.CANCELLED: "danger",
}
CAMT054_MAX_BYTES = 50 * 1024 * 1024


class Camt054Form(forms.Form):
    file = forms.FileField(
        label=_("Notifica di addebito (camt.054, XML)"),
        widget=UnfoldAdminFileFieldWidget,
        error_messages={"required": _("Scegli il file XML ricevuto dalla banca.")},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CAMT054_MAX_BYTES:
            raise ValidationError(_("Il file è troppo grande (al massimo 50 MB)."))
        return upload


class PaymentLineInline(LabelledTabularInline):
    model = PaymentLine
    extra = 0
    can_delete = False
    per_page = 50
    fields = [
        "creditor_name",
        "creditor_iban",
        "amount_display",
        "end_to_end_id",
        "remittance",
        "paid_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")

    @display(description=_("importo"))
    def amount_display(self, obj):
        return euro(obj.amount)


@admin.register(PaymentBatch)
class PaymentBatchAdmin(AgencyOnlyMixin, LedgerReadOnlyMixin, ModelAdmin):
    """Distinte: read-only; each button calls one service of ``core.payments``."""

    list_display = [
        "id",
        "kind",
        "status_display",
        "transfers_count",
        "total_display",
        "prepared_by",
        "released_by",
        "prepared_at",
        "requested_execution_date",
        "paid_at",
    ]
    list_filter = [("kind", ChoicesDropdownFilter), ("status", ChoicesDropdownFilter)]
    search_fields = ["=message_id", "=id"]
    list_select_related = ["prepared_by", "released_by"]
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "kind",
                    "status_detail",
                    "message_id",
                    "requested_execution_date",
                    "transfers_count",
                    "total_display",
                ]
            },
        ),
        (
            _("Ordinante"),
            {"fields": ["debtor_name", "debtor_iban", "debtor_bic", "debtor_address"]},
        ),
        (
            _("Passaggi"),
            {
                "fields": [
                    ("prepared_by", "prepared_at"),
                    ("released_by", "released_at"),
                    ("exported_by", "exported_at"),
                    ("paid_by", "paid_at"),
                    ("cancelled_by", "cancelled_at"),
                    "cancel_reason",
                ]
            },
        ),
    ]
    readonly_fields = [
        "kind",
        "status_detail",
        "message_id",
        "requested_execution_date",
        "transfers_count",
        "total_display",
        "debtor_name",
        "debtor_iban",
        "debtor_bic",
        "debtor_address",
        "prepared_by",
        "prepared_at",
        "released_by",
        "released_at",
        "exported_by",
        "exported_at",
        "paid_by",
        "paid_at",
        "cancelled_by",
        "cancelled_at",
        "cancel_reason",
    ]
    inlines = [PaymentLineInline]
    actions_list = ["import_camt054"]
    actions_detail = ["release_detail", "export_detail", "mark_paid_detail", "cancel_detail"]

    # Who may do what: the agency with the right to change batches, on a batch whose
    # status allows it (the button is not even shown otherwise).

    ALLOWED_FROM = {
        "release": {PaymentBatch.Status.PREPARED},
        "export": {PaymentBatch.Status.RELEASED, PaymentBatch.Status.EXPORTED},
        "mark_paid": {PaymentBatch.Status.EXPORTED},
        "cancel": {
            PaymentBatch.Status.PREPARED,
            PaymentBatch.Status.RELEASED,
            PaymentBatch.Status.EXPORTED,
        },
    }

    def _may_handle(self, request) -> bool:
        return self.sees_everything(request) and request.user.has_perm("core.change_paymentbatch")

    def _status_of(self, request, object_id) -> str | None:
        cache = request.__dict__.setdefault("_payment_batch_status", {})
        if object_id not in cache:
            cache[object_id] = (
                self.get_queryset(request)
                .filter(pk=unquote(str(object_id)))
                .values_list("status", flat=True)
                .first()
            )
        return cache[object_id]

    def _may(self, step: str, request, object_id) -> bool:
        if not self._may_handle(request):
            return False
        return object_id is None or self._status_of(request, object_id) in self.ALLOWED_FROM[step]

    def has_release_permission(self, request, object_id=None):
        return self._may("release", request, object_id)

    def has_export_permission(self, request, object_id=None):
        return self._may("export", request, object_id)

    def has_mark_paid_permission(self, request, object_id=None):
        return self._may("mark_paid", request, object_id)

    def has_cancel_permission(self, request, object_id=None):
        return self._may("cancel", request, object_id)

    def has_reconcile_permission(self, request, obj=None):
        return self._may_handle(request)

    # Displays.

    @display(description=_("stato"), label=PAYMENT_BATCH_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("stato"))
    def status_detail(self, obj):
        return status_badge(obj.get_status_display(), PAYMENT_BATCH_STATUS_VARIANTS[obj.status])

    @display(description=_("totale"), ordering="total")
    def total_display(self, obj):
        return euro(obj.total)

    @display(description=_("indirizzo dell'ordinante"))
    def debtor_address(self, obj):
        street = " ".join(part for part in [obj.debtor_street, obj.debtor_building_number] if part)
        town = " ".join(part for part in [obj.debtor_postcode, obj.debtor_town] if part)
        return ", ".join(part for part in [street, town, obj.debtor_country] if part) or "—"

    # The buttons of a batch.

    def _batch(self, request, object_id) -> PaymentBatch:
        batch = self.get_object(request, unquote(object_id))
        if batch is None:
            raise Http404
        return batch

    def _summary(self, batch: PaymentBatch) -> list[tuple]:
        return [
            (_("Distinta"), batch.message_id),
            (_("Tipo"), batch.get_kind_display()),
            (_("Stato"), batch.get_status_display()),
            (_("Bonifici"), batch.transfers_count),
            (_("Totale"), euro(batch.total)),
            (_("Data di esecuzione richiesta"), batch.requested_execution_date),
            (_("Preparata da"), batch.prepared_by),
        ]

    def _step(
        self,
        request,
        object_id,
        *,
        title,
        submit_label,
        run,
        form_class=ConfirmForm,
        description="",
        danger=False,
        success="",
    ):
        batch = self._batch(request, object_id)
        form = bound_if_confirmed(form_class, request)
        if form.is_valid():
            try:
                response = run(batch, form.cleaned_data)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return HttpResponseRedirect(change_url(batch))
            if response is not None:
                return response
            self.message_user(request, success, messages.SUCCESS)
            return HttpResponseRedirect(change_url(batch))
        return action_form_page(
            request,
            self,
            title=title,
            description=description,
            form=form,
            summary=self._summary(batch),
            submit_label=submit_label,
            obj=batch,
            danger=danger,
        )

    @action(
        description=_("Autorizza"),
        url_path="autorizza",
        icon="verified_user",
        variant=ActionVariant.PRIMARY,
        permissions=["release"],
    )
    def release_detail(self, request, object_id):
        def run(batch, _data):
            payment_batch_release(batch=batch, released_by=request.user)

        return self._step(
            request,
            object_id,
            title=_("Autorizza la distinta"),
            description=_(
                "Chi autorizza deve essere una persona diversa da chi ha preparato la "
                "distinta (quattro occhi). Dopo l'autorizzazione si può scaricare il file SEPA."
            ),
            submit_label=_("Autorizza"),
            run=run,
            success=_("Distinta autorizzata: ora si può scaricare il file SEPA."),
        )

    @action(
        description=_("Scarica file SEPA"),
        url_path="scarica-sepa",
        icon="download",
        permissions=["export"],
    )
    def export_detail(self, request, object_id):
        def run(batch, _data):
            out = io.BytesIO()
            payment_batch_export(batch=batch, out=out, exported_by=request.user)
            response = HttpResponse(out.getvalue(), content_type="application/xml")
            response["Content-Disposition"] = (
                f'attachment; filename="distinta-{batch.message_id}.xml"'
            )
            return response

        return self._step(
            request,
            object_id,
            title=_("Scarica il file SEPA (pain.001)"),
            description=_(
                "Il file va caricato nell'home banking dell'agenzia. Scaricarlo di nuovo "
                "produce lo stesso identico file: la banca non paga due volte."
            ),
            submit_label=_("Scarica"),
            run=run,
        )

    @action(
        description=_("Segna come pagata"),
        url_path="segna-pagata",
        icon="paid",
        permissions=["mark_paid"],
    )
    def mark_paid_detail(self, request, object_id):
        def run(batch, _data):
            payment_batch_mark_paid(batch=batch, by=request.user)

        return self._step(
            request,
            object_id,
            title=_("Segna la distinta come pagata"),
            description=_(
                "Solo quando la banca ha eseguito i bonifici: ogni bonifico non ancora "
                "confermato viene registrato come pagato."
            ),
            submit_label=_("Segna come pagata"),
            run=run,
            success=_("Distinta segnata come pagata."),
        )

    @action(
        description=_("Annulla"),
        url_path="annulla",
        icon="cancel",
        variant=ActionVariant.DANGER,
        permissions=["cancel"],
    )
    def cancel_detail(self, request, object_id):
        def run(batch, data):
            payment_batch_cancel(batch=batch, by=request.user, reason=data["reason"])

        return self._step(
            request,
            object_id,
            title=_("Annulla la distinta"),
            description=_(
                "Le somme restano da pagare e potranno entrare in una nuova distinta. "
                "Non si annulla una distinta che la banca ha già pagato, anche in parte."
            ),
            form_class=ReasonForm,
            submit_label=_("Annulla la distinta"),
            run=run,
            danger=True,
            success=_("Distinta annullata."),
        )

    # The bank's answer.

    @action(
        description=_("Importa esito banca (camt.054)"),
        url_path="importa-camt054",
        icon="upload_file",
        permissions=["reconcile"],
    )
    def import_camt054(self, request):
        form = Camt054Form(
            request.POST if is_confirmed(request) else None,
            request.FILES if is_confirmed(request) else None,
        )
        if form.is_valid():
            try:
                report = payment_batch_reconcile_camt054(
                    xml_bytes=form.cleaned_data["file"].read(), by=request.user
                )
            except DomainError as exc:
                form.add_error("file", exc.detail)
            else:
                self._report(request, report)
                return HttpResponseRedirect(changelist_url(PaymentBatch))
        return action_form_page(
            request,
            self,
            title=_("Importa l'esito della banca (camt.054)"),
            description=_(
                "I bonifici confermati dalla banca, con l'importo esatto, vengono segnati "
                "come pagati; una distinta è pagata quando lo sono tutti i suoi bonifici. "
                "Importare di nuovo lo stesso file non cambia nulla."
            ),
            form=form,
            submit_label=_("Importa"),
            cancel_url=changelist_url(PaymentBatch),
        )

    def _report(self, request, report) -> None:
        def listed(ids) -> str:
            shown = ", ".join(ids[:20])
            return f"{shown}, …" if len(ids) > 20 else shown

        if report.paid:
            self.message_user(
                request,
                _("Bonifici segnati come pagati: %(count)d (%(ids)s).")
                % {"count": len(report.paid), "ids": listed(report.paid)},
                messages.SUCCESS,
            )
        if report.batches_paid:
            self.message_user(
                request,
                _("Distinte ora pagate: %(ids)s.") % {"ids": listed(report.batches_paid)},
                messages.SUCCESS,
            )
        if report.already_paid:
            self.message_user(
                request,
                _("Già pagati in precedenza: %(count)d.") % {"count": len(report.already_paid)},
                messages.INFO,
            )
        if report.unknown_ids:
            self.message_user(
                request,
                _("Identificativi sconosciuti: %(ids)s.") % {"ids": listed(report.unknown_ids)},
                messages.WARNING,
            )
        for mismatch in report.amount_mismatches[:20]:
            reported = (
                f"{mismatch.reported} {mismatch.currency}".strip()
                if mismatch.reported is not None
                else "—"
            )
            self.message_user(
                request,
                _("Importo diverso per %(ref)s: atteso %(expected)s, la banca indica %(reported)s.")
                % {
                    "ref": mismatch.reference,
                    "expected": euro(mismatch.expected),
                    "reported": reported,
                },
                messages.ERROR,
            )
        if len(report.amount_mismatches) > 20:
            self.message_user(
                request,
                _("Altri %(count)d importi diversi.")
                % {"count": len(report.amount_mismatches) - 20},
                messages.ERROR,
            )
        if report.not_booked:
            self.message_user(
                request,
                _("Addebiti non ancora contabilizzati dalla banca: %(ids)s.")
                % {"ids": listed(report.not_booked)},
                messages.WARNING,
            )
        if report.not_exported:
            self.message_user(
                request,
                _("Bonifici di distinte non esportate o annullate, non segnati: %(ids)s.")
                % {"ids": listed(report.not_exported)},
                messages.WARNING,
            )
        if not (
            report.paid
            or report.already_paid
            or report.unknown_ids
            or report.amount_mismatches
            or report.not_booked
            or report.not_exported
        ):
            self.message_user(request, _("Il file non contiene addebiti."), messages.WARNING)


import core.admin_funding  # noqa: E402, F401  (contributions of every kind)
