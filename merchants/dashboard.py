"""The admin's home page: the figures staff look at first."""

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from core.money import ZERO, format_euro
from merchants.models import Merchant, Redemption
from vouchers.models import Voucher


def dashboard_callback(request, context):
    vouchers = Voucher.objects.aggregate(
        count=Count("id"),
        active=Count("id", filter=Q(status=Voucher.Status.ACTIVE)),
        issued=Sum("face_value"),
        outstanding=Sum("balance", filter=Q(status=Voucher.Status.ACTIVE)),
    )
    redeemed = Redemption.objects.filter(status=Redemption.Status.CONFIRMED).aggregate(
        total=Sum("amount"), count=Count("id")
    )
    context["kpis"] = [
        {
            "title": _("Buoni emessi"),
            "value": vouchers["count"],
            "footer": format_euro(vouchers["issued"] or ZERO),
        },
        {
            "title": _("Buoni attivi"),
            "value": vouchers["active"],
            "footer": format_euro(vouchers["outstanding"] or ZERO),
        },
        {
            "title": _("Speso nei negozi"),
            "value": format_euro(redeemed["total"] or ZERO),
            "footer": _("%(count)s utilizzi") % {"count": redeemed["count"]},
        },
        {
            "title": _("Negozi accreditati"),
            "value": Merchant.objects.filter(status=Merchant.Status.ACCREDITED).count(),
            "footer": "",
        },
    ]
    return context
