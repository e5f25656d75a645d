from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline

from core.models import Account, Contribution, Fund, Journal, Membership, Organization, Posting


class MembershipInline(TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "kind", "istat_code", "funder_kind"]
    list_filter = ["kind", "funder_kind"]
    search_fields = ["name", "istat_code"]
    inlines = [MembershipInline]


@admin.register(Fund)
class FundAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "manager", "created_at"]
    search_fields = ["name"]
    list_select_related = ["manager"]


@admin.register(Contribution)
class ContributionAdmin(ModelAdmin):
    list_display = ["funder", "fund", "amount", "received_on", "document_reference"]
    list_filter = ["fund", "received_on"]
    search_fields = ["funder__name", "document_reference"]
    list_select_related = ["funder", "fund"]
    readonly_fields = ["fund", "funder", "amount", "received_on", "document_reference", "journal"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingInline(TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    fields = ["account", "amount", "voucher_ref", "merchant_ref"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Journal)
class JournalAdmin(ModelAdmin):
    list_display = ["id", "kind", "memo", "created_at", "created_by"]
    list_filter = ["kind"]
    search_fields = ["memo"]
    list_select_related = ["created_by"]
    readonly_fields = ["kind", "memo", "created_at", "created_by"]
    inlines = [PostingInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ModelAdmin):
    list_display = ["key", "kind", "name"]
    list_filter = ["kind"]
    search_fields = ["key", "name"]
    readonly_fields = ["key", "kind", "name"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
