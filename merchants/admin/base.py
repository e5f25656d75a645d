"""Shared pieces of the shops' admin: status colours, what each user sees, how a redemption is shown."""

import re

from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from core.admin.toolkit import (
    euro,
    status_badge,
)
from merchants.errors import RedemptionError
from merchants.models import (
    Merchant,
    Redemption,
)
from vouchers.admin import vouchers as voucher_admins
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    request_scope,
)

MERCHANT_STATUS_VARIANTS = {
    Merchant.Status.REQUESTED: "info",
    Merchant.Status.ACCREDITED: "success",
    Merchant.Status.SUSPENDED: "warning",
    Merchant.Status.REJECTED: "danger",
}


REDEMPTION_STATUS_VARIANTS = {
    Redemption.Status.CONFIRMED: "success",
    Redemption.Status.VOIDED: "danger",
}


RECEIPT_NUMBER = re.compile(r"^\d{4}-(\d{1,8})$")


FISCAL_CODE_SHAPE = re.compile(r"^[A-Za-z0-9]{16}$")


def reason_label(code: str) -> str:
    """The sentence a refused attempt's reason code stands for, without its placeholders."""
    message = RedemptionError.messages.get(code)
    if message is None:
        return code
    return re.sub(r"%\(\w+\)s", "…", str(message))


def visible_merchants(request):
    """Shops the user may see: all for the agency, else those serving his municipalities."""
    scope = request_scope(request)
    if scope.everything:
        return Merchant.objects.all()
    return Merchant.objects.filter(
        pk__in=Merchant.municipalities.through.objects.filter(
            organization_id__in=scope.municipality_ids
        ).values("merchant_id")
    )


class MerchantScopedAdminMixin(ScopedAdminMixin):
    """Scoping for the shops' admins: rows of the shops the user sees."""

    def of_visible_merchants(self, request, rows):
        if request_scope(request).everything:
            return rows  # including rows without a shop (a refused unknown device)
        return rows.filter(merchant__in=visible_merchants(request))

    def related_choices(self, request, model):
        if model is Merchant:
            return visible_merchants(request)
        return super().related_choices(request, model)


class RedemptionDisplayMixin:
    @display(description=_("ricevuta"), ordering="pk")
    def receipt_display(self, obj):
        return obj.receipt_number

    @display(description=_("buono"))
    def voucher_hint(self, obj):
        return obj.voucher.code_hint

    @display(description=_("buono"))
    def voucher_detail(self, obj):
        return voucher_admins.voucher_link(obj.voucher)

    @display(description=_("intestatario"))
    def holder(self, obj):
        return obj.voucher.beneficiary

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("saldo dopo"))
    def balance_after_display(self, obj):
        return euro(obj.balance_after)

    @display(description=_("stato"), label=REDEMPTION_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("stato"))
    def status_badge(self, obj):
        """The status as a badge where unfold does not draw labels (details, inlines)."""
        return status_badge(obj.get_status_display(), REDEMPTION_STATUS_VARIANTS[obj.status])
