"""The redemption API: thin views that parse, call one service and render."""

import logging
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ErrorSerializer, error_response
from core.client_address import client_ip
from core.days import OUT_OF_RANGE, day_in_range
from merchants import selectors
from merchants.authentication import DevicePrincipal
from merchants.errors import RedemptionError
from merchants.models import MerchantStaff, Redemption, RefusedAttempt
from merchants.scanning import MAX_SCAN_BYTES, ScanError, ScanParser, voucher_code_from_frame
from merchants.serializers import (
    RedemptionInputSerializer,
    RedemptionListOutputSerializer,
    RedemptionOutputSerializer,
    ScanInputSerializer,
    ScanOutputSerializer,
    VoucherCheckInputSerializer,
    VoucherCheckOutputSerializer,
)
from merchants.services.checks import voucher_check
from merchants.services.redemption import (
    idempotency_key_resolve,
    voucher_redeem,
)
from merchants.services.tills import Till, refused_attempt_record
from merchants.services.voids import redemption_void
from merchants.throttle import unknown_code_count, unknown_code_throttle

logger = logging.getLogger(__name__)


def _error(description: str, *codes: str) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=f"{description} Codes: " + ", ".join(f"`{c}`" for c in codes),
        examples=[OpenApiExample(code, value={"code": code, "detail": "…"}) for code in codes],
    )


UNSUPPORTED_BODY = _error("The body is not in the documented format.", "invalid_request")
TOO_LARGE = _error("The body is larger than 64 KB; it was not read.", "request_too_large")
UNAVAILABLE = _error(
    "The database could not be reached; nothing was written. Retry after `Retry-After` "
    "seconds (a redemption with the same Idempotency-Key).",
    "service_unavailable",
)

AUTH_ERRORS = {
    401: _error("Not authenticated.", "not_authenticated"),
    403: _error(
        "The shop may not take vouchers now, or the user is not shop staff.",
        "merchant_suspended",
        "merchant_not_accredited",
        "not_a_merchant",
    ),
    429: _error(
        "Too many unknown codes from this till or from this network address; the "
        "`Retry-After` header gives the seconds to wait.",
        "rate_limited",
    ),
}


def till_for(request: Request) -> Till:
    """Return the till making the request, or refuse a user who is no shop's staff."""
    if isinstance(request.user, DevicePrincipal):
        return Till(merchant=request.user.merchant, device=request.user.device)
    staff = MerchantStaff.objects.select_related("merchant").filter(user_id=request.user.pk).first()
    if staff is None:
        raise RedemptionError(
            "not_a_merchant", message=_("Questo utente non lavora per un negozio del circuito.")
        )
    return Till(merchant=staff.merchant, user=request.user, role=staff.role)


def refuse(request, till, action, error, code="", amount=None) -> Response:
    refused_attempt_record(
        till=till,
        action=action,
        error=error,
        code=code,
        amount=amount,
        ip_address=client_ip(request),
    )
    if error.code == "voucher_not_found":
        unknown_code_count(request, till)
    return error_response(error.code, error.detail)


class VoucherCheckApi(APIView):
    @extend_schema(
        operation_id="voucher_check",
        summary="Check a voucher before charging",
        description=(
            "Returns the holder's name (to compare with an identity document; empty for a "
            "shop outside the voucher's circuit), the balance and whether this shop can redeem "
            "the voucher now. `reason` is null or one of the error codes of the redemption "
            "endpoint."
        ),
        request=VoucherCheckInputSerializer,
        responses={
            200: VoucherCheckOutputSerializer,
            400: _error("Malformed input.", "invalid_code_format", "invalid_request"),
            413: TOO_LARGE,
            415: UNSUPPORTED_BODY,
            404: _error("No voucher has this code.", "voucher_not_found"),
            **AUTH_ERRORS,
            503: UNAVAILABLE,
        },
        tags=["vouchers"],
    )
    def post(self, request: Request) -> Response:
        till = till_for(request)
        throttled = unknown_code_throttle(request, till)
        if throttled is not None:
            return throttled
        serializer = VoucherCheckInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw_code = serializer.validated_data["code"]
        try:
            check = voucher_check(till=till, code=raw_code, ip_address=client_ip(request))
        except RedemptionError as error:
            return refuse(request, till, RefusedAttempt.Action.CHECK, error, raw_code)
        voucher, reason = check.voucher, check.reason
        data = {
            "holder_name": check.holder_name,
            "balance": voucher.balance,
            "face_value": voucher.face_value,
            "currency": "EUR",
            "valid_from": voucher.valid_from,
            "valid_until": voucher.valid_until,
            "initiative": {"id": voucher.initiative_id, "title": voucher.initiative.title},
            "partial_allowed": voucher.partial_allowed,
            "redeemable": check.redeemable,
            "reason": reason.code if reason else None,
            "reason_detail": reason.detail if reason else None,
        }
        return Response(VoucherCheckOutputSerializer(data).data)


def idempotency_key_header(description: str) -> OpenApiParameter:
    """Describe the required Idempotency-Key header: 1–255 characters, not only blanks."""
    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
        OpenApiParameter.HEADER,
        required=True,
        description=description,
    )


class RedemptionListCreateApi(APIView):
    @extend_schema(
        operation_id="redemption_create",
        summary="Redeem an amount from a voucher",
        description=(
            "Debits the voucher once. The `Idempotency-Key` header (1–255 characters) is "
            "required: a retry with the same key and body returns the first response again "
            "and debits nothing more; the same key with another body is refused with "
            "`idempotency_key_reused`, and a key that `GET /api/v1/redemptions/lookup/` "
            "answered with `redemption_not_found` is refused with `idempotency_key_closed`."
        ),
        parameters=[
            idempotency_key_header("A unique value per sale, reused unchanged on retries.")
        ],
        request=RedemptionInputSerializer,
        responses={
            201: RedemptionOutputSerializer,
            400: _error(
                "Malformed input.",
                "invalid_code_format",
                "invalid_amount",
                "idempotency_key_missing",
                "invalid_request",
            ),
            413: TOO_LARGE,
            415: UNSUPPORTED_BODY,
            404: _error("No voucher has this code.", "voucher_not_found"),
            409: _error(
                "The voucher cannot be spent this way.",
                "voucher_expired",
                "voucher_not_yet_valid",
                "voucher_revoked",
                "voucher_exhausted",
                "insufficient_balance",
                "partial_not_allowed",
                "merchant_not_in_circuit",
                "idempotency_key_reused",
                "idempotency_key_closed",
            ),
            **AUTH_ERRORS,
            503: UNAVAILABLE,
        },
        tags=["redemptions"],
    )
    def post(self, request: Request) -> Response:
        till = till_for(request)
        throttled = unknown_code_throttle(request, till)
        if throttled is not None:
            return throttled
        serializer = RedemptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        code = serializer.validated_data["code"]
        amount = serializer.validated_data.get("amount")
        try:
            result = voucher_redeem(
                till=till,
                code=code,
                amount=amount,
                idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            )
        except RedemptionError as error:
            return refuse(request, till, RefusedAttempt.Action.REDEEM, error, code, amount)
        return Response(
            RedemptionOutputSerializer(result.redemption).data,
            status=status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"} if result.replayed else None,
        )

    @extend_schema(
        operation_id="redemption_list",
        summary="This shop's redemptions of a day, with the day's total",
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="YYYY-MM-DD; default today."),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1–200, default 50."),
        ],
        responses={
            200: RedemptionListOutputSerializer,
            400: _error("Malformed date or page, or a day outside 2000–2099.", "invalid_request"),
            401: AUTH_ERRORS[401],
            403: AUTH_ERRORS[403],
            503: UNAVAILABLE,
        },
        tags=["redemptions"],
    )
    def get(self, request: Request) -> Response:
        till = till_for(request)
        try:
            day = date.fromisoformat(
                request.query_params.get("date") or timezone.localdate().isoformat()
            )
            page = int(request.query_params.get("page", "1"))
            page_size = int(request.query_params.get("page_size", "50"))
        except ValueError:
            return error_response(
                "invalid_request",
                str(_("Data o pagina non valida: usa AAAA-MM-GG e numeri interi.")),
            )
        if page < 1 or not 1 <= page_size <= 200:
            return error_response("invalid_request", str(_("Pagina o dimensione non valida.")))
        if not day_in_range(day):
            return error_response("invalid_request", str(OUT_OF_RANGE))
        redemptions = selectors.merchant_redemptions_on(merchant_id=till.merchant.pk, day=day)
        count = redemptions.count()
        start = (page - 1) * page_size
        # A page past the end is empty without asking: an absurd page number would not even
        # fit the database's integers.
        rows = list(redemptions[start : start + page_size]) if start < count else []

        def page_url(number: int) -> str:
            query = request.query_params.copy()
            query["page"] = str(number)
            query["date"] = day.isoformat()
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        data = {
            "date": day,
            "count": count,
            "total": selectors.merchant_day_total(merchant_id=till.merchant.pk, day=day),
            "next": page_url(page + 1) if start + page_size < count else None,
            "previous": page_url(page - 1) if page > 1 else None,
            "results": rows,
        }
        return Response(RedemptionListOutputSerializer(data).data)


class RedemptionVoidApi(APIView):
    class OutputSerializer(RedemptionOutputSerializer):
        voucher_balance = serializers.DecimalField(
            source="voucher.balance",
            max_digits=10,
            decimal_places=2,
            help_text="The voucher's balance now, with the voided amount back on it.",
        )

    @extend_schema(
        operation_id="redemption_void",
        summary="Void a mistaken redemption (same day, not yet settled)",
        request=None,
        responses={
            200: OutputSerializer,
            404: _error(
                "No redemption of this shop has this id, or the id is not a number.",
                "redemption_not_found",
                "not_found",
            ),
            409: _error(
                "The redemption can no longer be voided.",
                "void_window_closed",
                "already_voided",
                "already_settled",
                "voucher_revoked",
                "voucher_expired",
            ),
            401: AUTH_ERRORS[401],
            403: _error(
                "Not allowed.", "not_your_redemption", "merchant_suspended", "not_a_merchant"
            ),
            503: UNAVAILABLE,
        },
        tags=["redemptions"],
    )
    def post(self, request: Request, redemption_id: int) -> Response:
        till = till_for(request)
        try:
            redemption = redemption_void(till=till, redemption_id=redemption_id)
        except RedemptionError as error:
            return refuse(request, till, RefusedAttempt.Action.VOID, error)
        redemption = Redemption.objects.select_related("voucher__beneficiary").get(pk=redemption.pk)
        return Response(self.OutputSerializer(redemption).data)


class RedemptionLookupApi(APIView):
    class InputSerializer(serializers.Serializer):
        idempotency_key = serializers.CharField(max_length=255, trim_whitespace=True)

    @extend_schema(
        operation_id="redemption_lookup",
        summary="Whether a sale sent with an Idempotency-Key was recorded",
        description=(
            "For a till that lost the answer to a redemption: returns the redemption this "
            "shop recorded under the `Idempotency-Key`, or `redemption_not_found` if none was "
            "recorded, so that nothing was charged. Asking charges nothing, unlike sending "
            "the redemption again.\n\n"
            "A `redemption_not_found` is final: the key is closed in the same transaction, "
            "so the redemption sent with it, if it is still on its way (held up in a proxy or "
            "the server), is refused with `idempotency_key_closed` when it arrives and debits "
            "nothing. A redemption that recorded the key first is returned instead. Asking "
            "again gives the same answer. Make the sale again with a new key."
        ),
        parameters=[idempotency_key_header("The key the redemption was sent with.")],
        responses={
            200: RedemptionOutputSerializer,
            400: _error("The header is missing, blank or too long.", "idempotency_key_missing"),
            404: _error(
                "This shop recorded no redemption with this key: nothing was charged, and "
                "the key is now closed, so nothing will be charged with it.",
                "redemption_not_found",
            ),
            401: AUTH_ERRORS[401],
            403: _error("The user is not shop staff.", "not_a_merchant"),
            503: UNAVAILABLE,
        },
        tags=["redemptions"],
    )
    def get(self, request: Request) -> Response:
        till = till_for(request)
        serializer = self.InputSerializer(
            data={"idempotency_key": request.headers.get("Idempotency-Key", "")}
        )
        if not serializer.is_valid():
            raise RedemptionError("idempotency_key_missing")
        redemption = idempotency_key_resolve(
            till=till, key=serializer.validated_data["idempotency_key"]
        )
        if redemption is None:
            raise RedemptionError(
                "redemption_not_found",
                message=_(
                    "Nessun utilizzo registrato con questa chiave: nulla è stato addebitato."
                ),
            )
        return Response(RedemptionOutputSerializer(redemption).data)


class ScanApi(APIView):
    parser_classes = [ScanParser]

    @extend_schema(
        operation_id="scan",
        summary="Decode a voucher QR from a camera frame",
        description=(
            "For browsers without BarcodeDetector: send a JPEG or PNG frame of at most 5 MB "
            "and 25 million pixels. Any other format is refused unread; a larger body is "
            "refused before it is read."
        ),
        request={"multipart/form-data": ScanInputSerializer},
        responses={
            200: ScanOutputSerializer,
            400: _error(
                "Not a JPEG or PNG, unreadable, too large, or no image field.",
                "unsupported_image_format",
                "invalid_image",
                "image_too_large",
                "invalid_request",
            ),
            413: _error("The body is larger than the frame allowed.", "request_too_large"),
            415: UNSUPPORTED_BODY,
            422: _error("No voucher QR in the picture.", "no_code_found"),
            401: AUTH_ERRORS[401],
            403: AUTH_ERRORS[403],
            503: _error(
                "The server cannot read QR codes from pictures now (its decoder is missing), "
                "or the database could not be reached: type the code instead.",
                "service_unavailable",
            ),
        },
        tags=["vouchers"],
    )
    def post(self, request: Request) -> Response:
        till_for(request)
        image = request.FILES.get("image")
        if image is None:
            return error_response("invalid_request", str(_("Manca l'immagine (campo image).")))
        if image.size > MAX_SCAN_BYTES:
            raise ScanError("image_too_large")
        return Response({"code": voucher_code_from_frame(image.read(MAX_SCAN_BYTES + 1))})
