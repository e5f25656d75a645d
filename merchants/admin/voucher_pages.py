"""The shop side of the voucher and call pages of ``vouchers.admin`` (their redemptions),
since vouchers must not know about shops."""

from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin.toolkit import (
    LabelledTabularInline,
    euro,
)
from core.money import ZERO
from merchants.admin.base import (
    RedemptionDisplayMixin,
)
from merchants.models import (
    Redemption,
)
from merchants.selectors import initiative_redemption_figures
from vouchers import admin as vouchers_admin
from vouchers.admin import vouchers as voucher_admins


class VoucherRedemptionInline(RedemptionDisplayMixin, LabelledTabularInline):
    model = Redemption
    fk_name = "voucher"
    extra = 0
    can_delete = False
    per_page = 20
    show_change_link = True
    fields = [
        "receipt_display",
        "created_at",
        "merchant",
        "amount_display",
        "balance_after_display",
        "status_badge",
        "cashier",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant", "cashier")


class VoucherAdmin(voucher_admins.VoucherAdmin):
    inlines = [*voucher_admins.VoucherAdmin.inlines, VoucherRedemptionInline]


class InitiativeAdmin(vouchers_admin.InitiativeAdmin):
    list_display = [
        *vouchers_admin.InitiativeAdmin.list_display[:6],
        "redeemed_count",
        "spent_display",
        *vouchers_admin.InitiativeAdmin.list_display[6:],
    ]

    @display(description=_("buoni usati"))
    def redeemed_count(self, obj):
        return initiative_redemption_figures().get(obj.pk, {}).get("used", 0)

    @display(description=_("speso nei negozi"))
    def spent_display(self, obj):
        return euro(initiative_redemption_figures().get(obj.pk, {}).get("spent", ZERO))
