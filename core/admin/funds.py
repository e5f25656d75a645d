"""Admin of funds, with the contributions that fed them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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

    def has_add_permission(self, request: HttpRequest, obj: Contribution | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
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

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        return funds_for(user=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(balance=account_total_for("fund:"))

    @display(description=_("disponibile"), ordering="balance")
    def balance_display(self, obj: Fund) -> str:
        balance = obj.balance  # type: ignore[attr-defined]  # annotated by get_queryset
        return euro(balance if balance is not None else ZERO)

    @display(description=_("disponibile"))
    def balance_detail(self, obj: Fund) -> str:
        if obj.pk is None:
            return "—"
        return euro(fund_balance(fund_id=obj.pk))

    def has_record_contribution_permission(
        self, request: HttpRequest, obj: Fund | None = None
    ) -> bool:
        return request.user.has_perm("core.add_contribution")

    @action(
        description=_("Registra un contributo"),
        icon="add_card",
        url_path="registra-contributo",
        permissions=["record_contribution"],
    )
    def record_contribution(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._visible_or_404(request, object_id)
        url = reverse("admin:core_contribution_add")
        return HttpResponseRedirect(f"{url}?{urlencode({'fund': object_id})}")
