"""Redemptions and refused attempts: ledger-backed and audit rows, read-only."""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.fields import Field
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    DropdownFilter,
)
from unfold.decorators import display

from core.admin.toolkit import (
    DayRangeFilter,
    LedgerReadOnlyMixin,
    euro,
    search_words,
)
from core.paginator import CappedCountPaginator
from merchants.admin.base import (
    FISCAL_CODE_SHAPE,
    RECEIPT_NUMBER,
    MerchantScopedAdminMixin,
    RedemptionDisplayMixin,
    reason_label,
)
from merchants.errors import RedemptionError
from merchants.models import (
    Merchant,
    Redemption,
    RefusedAttempt,
)
from vouchers.admin import vouchers as voucher_admins
from vouchers.admin.exports import ExportAdminMixin, ListResource
from vouchers.admin.scoping import (
    ScopedRelatedDropdownFilter,
    request_scope,
    visible_vouchers,
)
from vouchers.models import Beneficiary, Voucher


class RedemptionResource(ListResource):
    receipt = Field(column_name=_("ricevuta"))
    created_at = Field(column_name=_("eseguito il"))
    merchant = Field(column_name=_("esercente"))
    vat_number = Field(column_name=_("partita IVA"))
    voucher = Field(column_name=_("buono (ultime cifre)"))
    holder = Field(column_name=_("intestatario"))
    initiative = Field(column_name=_("bando"))
    amount = Field(column_name=_("importo"))
    balance_after = Field(column_name=_("saldo dopo"))
    status = Field(column_name=_("stato"))
    settlement = Field(column_name=_("liquidazione"))

    def dehydrate_receipt(self, obj):
        return obj.receipt_number

    def dehydrate_created_at(self, obj):
        return timezone.localtime(obj.created_at).strftime("%d/%m/%Y %H:%M")

    def dehydrate_merchant(self, obj):
        return obj.merchant.name

    def dehydrate_vat_number(self, obj):
        return obj.merchant.vat_number

    def dehydrate_voucher(self, obj):
        return obj.voucher.code_hint

    def dehydrate_holder(self, obj):
        return obj.voucher.beneficiary.full_name

    def dehydrate_initiative(self, obj):
        return obj.voucher.initiative.title

    def dehydrate_amount(self, obj):
        return obj.amount

    def dehydrate_balance_after(self, obj):
        return obj.balance_after

    def dehydrate_status(self, obj):
        return obj.get_status_display()

    def dehydrate_settlement(self, obj):
        return obj.settlement_id or ""


class SettledFilter(DropdownFilter):
    title = _("liquidato")
    parameter_name = "settled"

    def lookups(self, request, model_admin):
        return [("yes", _("Sì")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(settlement__isnull=False)
        if self.value() == "no":
            return queryset.filter(settlement__isnull=True)
        return queryset


@admin.register(Redemption)
class RedemptionAdmin(
    MerchantScopedAdminMixin,
    RedemptionDisplayMixin,
    LedgerReadOnlyMixin,
    ModelAdmin,
    ExportAdminMixin,
):
    list_display = [
        "receipt_display",
        "created_at",
        "merchant",
        "voucher_hint",
        "holder",
        "amount_display",
        "balance_after_display",
        "status_display",
        "settlement_link",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("merchant", AutocompleteSelectFilter),
        ("created_at", DayRangeFilter),
        ("voucher__initiative", ScopedRelatedDropdownFilter),
        SettledFilter,
    ]
    list_filter_submit = True
    search_fields = [
        "merchant__name",
        "voucher__beneficiary__last_name",
        "=voucher__beneficiary__fiscal_code",
    ]
    search_help_text = _(
        "Negozio, cognome o codice fiscale dell'intestatario, oppure numero di ricevuta."
    )
    list_select_related = ["merchant", "voucher__beneficiary"]
    fields = [
        "receipt_display",
        "created_at",
        "status_badge",
        "voucher_detail",
        "holder",
        "merchant",
        "amount",
        "balance_after",
        "cashier",
        "device",
        "voided_at",
        "voided_by",
        "settlement",
        "journal",
    ]
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator
    resource_classes = [RedemptionResource]

    def scoped_queryset(self, request):
        # The redemptions of the vouchers of the people the user sees.
        if request_scope(request).everything:
            return Redemption.objects.all()
        return Redemption.objects.filter(voucher__in=visible_vouchers(request))

    def get_search_results(self, request, queryset, search_term):
        """Find redemptions by receipt number, shop, or the holder's surname or fiscal code.

        Each word is looked up on the small tables first (the shops; the holders through the
        fiscal code's unique index, or by surname) and the redemptions are then filtered by
        those ids: an OR across the joined tables would join every redemption with its
        voucher and holder, once for the count and again for the page.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        match = RECEIPT_NUMBER.match(term)
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        for word in search_words(term):
            shops = list(Merchant.objects.filter(name__icontains=word).values_list("pk", flat=True))
            if FISCAL_CODE_SHAPE.match(word):
                holders = Beneficiary.objects.filter(
                    Q(fiscal_code=word.upper()) | Q(last_name__icontains=word)
                )
            else:
                holders = Beneficiary.objects.filter(last_name__icontains=word)
            queryset = queryset.filter(
                Q(merchant_id__in=shops)
                | Q(voucher_id__in=Voucher.objects.filter(beneficiary__in=holders).values("pk"))
            )
        return queryset, False

    @display(description=_("liquidazione"), ordering="settlement_id")
    def settlement_link(self, obj):
        if obj.settlement_id is None:
            return "—"
        url = reverse("admin:merchants_settlement_change", args=[obj.settlement_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.settlement_id)


class ReasonFilter(DropdownFilter):
    title = _("motivo")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(code, reason_label(code)) for code in RedemptionError.messages]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(reason=self.value())
        return queryset


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(MerchantScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "reason_display",
        "merchant",
        "device",
        "user",
        "code_hint",
        "amount_display",
        "ip_address",
    ]
    list_fullwidth = True
    list_filter = [
        ReasonFilter,
        ("action", ChoicesDropdownFilter),
        ("merchant", AutocompleteSelectFilter),
        ("created_at", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = ["code_hint", "merchant__name", "ip_address"]
    list_select_related = ["merchant", "device", "user"]
    fields = [
        "created_at",
        "action",
        "reason_display",
        "merchant",
        "device",
        "user",
        "voucher_detail",
        "code_hint",
        "amount",
        "ip_address",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def scoped_queryset(self, request):
        return self.of_visible_merchants(request, RefusedAttempt.objects.all())

    @display(description=_("motivo"), ordering="reason")
    def reason_display(self, obj):
        return format_html(
            '{} <span class="text-subtle text-xs">{}</span>', reason_label(obj.reason), obj.reason
        )

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("buono"))
    def voucher_detail(self, obj):
        return voucher_admins.voucher_link(obj.voucher) if obj.voucher_id else "—"
