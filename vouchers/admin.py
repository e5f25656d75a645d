from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.decorators import display

from vouchers.models import Beneficiary, Initiative, SpendingCategory, Voucher


@admin.register(SpendingCategory)
class SpendingCategoryAdmin(ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Initiative)
class InitiativeAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["title", "status", "face_value", "partial_allowed", "valid_from", "valid_until"]
    list_filter = ["status", "partial_allowed"]
    search_fields = ["title"]
    filter_horizontal = ["municipalities", "allowed_categories"]


@admin.register(Beneficiary)
class BeneficiaryAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["last_name", "first_name", "fiscal_code", "municipality"]
    list_filter = ["municipality"]
    search_fields = ["last_name", "first_name", "fiscal_code"]
    list_select_related = ["municipality"]


@admin.register(Voucher)
class VoucherAdmin(ModelAdmin):
    list_display = [
        "code_hint_display",
        "beneficiary",
        "initiative",
        "balance",
        "face_value",
        "status_display",
        "valid_until",
    ]
    list_filter = ["status", "initiative", "medium"]
    search_fields = ["beneficiary__last_name", "beneficiary__fiscal_code", "=code"]
    list_select_related = ["beneficiary", "initiative"]
    readonly_fields = [
        "code",
        "initiative",
        "beneficiary",
        "face_value",
        "balance",
        "partial_allowed",
        "valid_from",
        "valid_until",
        "status",
        "medium",
        "issued_at",
        "closed_at",
        "closed_reason",
    ]
    show_full_result_count = False

    @display(description=_("codice"))
    def code_hint_display(self, obj):
        return obj.code_hint

    @display(
        description=_("stato"),
        label={"active": "success", "exhausted": "info", "expired": "warning", "revoked": "danger"},
    )
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
