"""A beneficiary's vouchers: the list, and each voucher with its code, shops and spending."""

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from merchants.models import Redemption
from merchants.selectors import circuit_merchants
from pwa.account import beneficiary_required
from vouchers.selectors.holders import vouchers_of_holder


@beneficiary_required
def my_vouchers(request: HttpRequest) -> HttpResponse:
    vouchers = vouchers_of_holder(beneficiary_id=request.beneficiary.pk)
    return render(
        request,
        "pwa/my_vouchers.html",
        {"vouchers": vouchers, "synced_at": timezone.now(), "beneficiary": request.beneficiary},
    )


@beneficiary_required
def my_voucher(request: HttpRequest, voucher_id: int) -> HttpResponse:
    voucher = (
        vouchers_of_holder(beneficiary_id=request.beneficiary.pk)
        .prefetch_related(
            Prefetch(
                "redemptions",
                queryset=Redemption.objects.select_related("merchant").order_by("-created_at"),
            )
        )
        .filter(pk=voucher_id)
        .first()
    )
    if voucher is None:
        raise Http404
    shops = circuit_merchants(initiative_id=voucher.initiative_id)[:50]
    return render(
        request,
        "pwa/my_voucher.html",
        {
            "voucher": voucher,
            "shops": shops,
            "synced_at": timezone.now(),
            "usable": voucher.is_usable(),
        },
    )
