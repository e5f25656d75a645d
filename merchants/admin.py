from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline

from merchants.models import (
    DeviceKey,
    Merchant,
    MerchantStaff,
    Redemption,
    RefusedAttempt,
    Settlement,
)


class MerchantStaffInline(TabularInline):
    model = MerchantStaff
    extra = 0
    autocomplete_fields = ["user"]


class DeviceKeyInline(TabularInline):
    model = DeviceKey
    extra = 0
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Merchant)
class MerchantAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "vat_number", "town", "status"]
    list_filter = ["status", "categories", "municipalities"]
    search_fields = ["name", "vat_number", "town"]
    filter_horizontal = ["categories", "municipalities"]
    inlines = [MerchantStaffInline, DeviceKeyInline]


@admin.register(Redemption)
class RedemptionAdmin(ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "merchant",
        "amount",
        "balance_after",
        "status",
        "settlement",
    ]
    list_filter = ["status", "merchant"]
    search_fields = ["merchant__name", "voucher__beneficiary__last_name"]
    list_select_related = ["merchant", "settlement", "settlement__merchant"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Settlement)
class SettlementAdmin(ModelAdmin):
    list_display = ["id", "merchant", "total", "redemptions_count", "created_at"]
    list_select_related = ["merchant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "reason",
        "merchant",
        "code_hint",
        "amount",
        "ip_address",
    ]
    list_filter = ["reason", "action"]
    list_select_related = ["merchant"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
