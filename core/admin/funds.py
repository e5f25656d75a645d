"""Admin of funds, with the contributions that fed them."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    RelatedDropdownFilter,
)
from unfold.decorators import action, display

from core.admin.toolkit import (
    LabelledTabularInline,
    RowScopedAdminMixin,
    account_total_for,
    euro,
)
from core.models import (
    Contribution,
    Fund,
)
from core.money import ZERO
from core.selectors import fund_balance, funds_for


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
