"""The API's single error format: ``{"code": "<stable code>", "detail": "<translated>"}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from core.parsers import MAX_JSON_DEPTH, JSONTooDeep, RequestTooLarge

# HTTP status of each domain error code; any code not listed is a refused state (409).
STATUS_BY_CODE: dict[str, int] = {
    "invalid_code_format": status.HTTP_400_BAD_REQUEST,
    "invalid_amount": status.HTTP_400_BAD_REQUEST,
    "invalid_request": status.HTTP_400_BAD_REQUEST,
    "invalid_image": status.HTTP_400_BAD_REQUEST,
    "idempotency_key_missing": status.HTTP_400_BAD_REQUEST,
    "unsupported_image_format": status.HTTP_400_BAD_REQUEST,
    "image_too_large": status.HTTP_400_BAD_REQUEST,
    "request_too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "voucher_not_found": status.HTTP_404_NOT_FOUND,
    "redemption_not_found": status.HTTP_404_NOT_FOUND,
    "not_found": status.HTTP_404_NOT_FOUND,
    "merchant_suspended": status.HTTP_403_FORBIDDEN,
    "merchant_not_accredited": status.HTTP_403_FORBIDDEN,
    "not_a_merchant": status.HTTP_403_FORBIDDEN,
    "not_your_redemption": status.HTTP_403_FORBIDDEN,
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "not_authenticated": status.HTTP_401_UNAUTHORIZED,
    "authentication_failed": status.HTTP_401_UNAUTHORIZED,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "no_code_found": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "service_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
}


class ErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    detail = serializers.CharField(help_text="Human-readable message in the request's language.")


def error_response(
    code: str, detail: str, http_status: int | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        {"code": code, "detail": detail},
        status=http_status or STATUS_BY_CODE.get(code, status.HTTP_409_CONFLICT),
        headers=headers,
    )


def _first_message(detail: object) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def drop_broken_connections() -> None:
    """Close the database connections that no longer answer, so the next query reconnects.

    A transaction block that fails closes its own connection; one that broke outside any
    block would stay in use, failing every later query of this worker, until the end of the
    request (and for ever in a process that sends no request signals).
    """
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is not None
            and not connection.in_atomic_block
            and not connection.is_usable()
        ):
            connection.close()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every error into ``{"code", "detail"}`` with the right status."""
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.detail)
    if isinstance(exc, RequestTooLarge):
        return error_response(
            "request_too_large",
            _("La richiesta supera il limite di %(size)s.") % {"size": filesizeformat(exc.limit)},
        )
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit on a body read whole (DATA_UPLOAD_MAX_MEMORY_SIZE).
        return error_response("request_too_large", _("La richiesta è troppo grande."))
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return error_response("invalid_request", _("La richiesta ha troppi campi o file."))
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away mid-request: the transaction was rolled back, so nothing
        # was written; the till may retry with the same Idempotency-Key.
        drop_broken_connections()
        return error_response(
            "service_unavailable",
            _(
                "Servizio momentaneamente non disponibile: riprova tra poco, nulla è stato addebitato."
            ),
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, Http404):
        return error_response("not_found", _("Non trovato."))
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.NotAuthenticated):
        return error_response(
            "not_authenticated",
            _("Accedi o usa la chiave del dispositivo per continuare."),
            status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Token"},
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return error_response(
            "not_authenticated",
            str(exc.detail),
            status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Token"},
        )
    if isinstance(exc, exceptions.Throttled):
        return error_response(
            "rate_limited",
            _("Troppe richieste in poco tempo. Riprova tra qualche minuto."),
            status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if isinstance(exc, exceptions.ValidationError):
        return error_response("invalid_request", _first_message(exc.detail))
    if isinstance(exc, JSONTooDeep):
        return error_response(
            "invalid_request",
            _("La richiesta JSON ha troppi livelli annidati (al massimo %(depth)s).")
            % {"depth": MAX_JSON_DEPTH},
        )
    if isinstance(exc, exceptions.ParseError):
        return error_response("invalid_request", _("La richiesta non è JSON valido."))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return error_response(
            "invalid_request", _("Formato della richiesta non supportato."), exc.status_code
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return error_response("method_not_allowed", _("Metodo non consentito."), exc.status_code)
    if isinstance(exc, exceptions.PermissionDenied):
        return error_response("permission_denied", _("Non hai il permesso per questa operazione."))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = {
            "code": getattr(exc, "default_code", "error"),
            "detail": _first_message(response.data),
        }
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 answer: the API's JSON error under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": _("Non trovato.")}, status=404)
    return page_not_found(request, exception)
