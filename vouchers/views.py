"""The voucher's QR image for its holder and for staff (by id: the code never goes in a URL)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from vouchers.qr import voucher_qr_png, voucher_qr_svg
from vouchers.selectors.scope import voucher_visible_to


@login_required
@require_GET
def voucher_qr(request: HttpRequest, voucher_id: str, image_format: str) -> HttpResponse:
    voucher = voucher_visible_to(user=request.user, voucher_id=int(voucher_id))
    if voucher is None:
        raise Http404
    if image_format == "svg":
        response = HttpResponse(voucher_qr_svg(voucher.code), content_type="image/svg+xml")
    else:
        response = HttpResponse(voucher_qr_png(voucher.code), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response
