"""The till's fast lane: a redemption by device key answered in front of Django's stack.

``POST /api/v1/redemptions/`` from a till with ``Authorization: Token …`` is the one request
that comes in bulk (every sale of every shop). Django's stack (the handler, sessions, locale,
CSRF, authentication, two-factor, messages, history, axes) and DRF's dispatch cost several
times what the redemption itself costs on PostgreSQL. ``TillFastLane`` wraps the WSGI
application (``config/wsgi.py``) and answers the ordinary case, a well-formed request that
succeeds or replays, by calling the same service, ``merchants.services.redemption.voucher_redeem``, with
the same inputs the view would give it. Its answer goes through the response side of the
middleware that adds security headers (``HEADER_MIDDLEWARE``, the first of
``settings.MIDDLEWARE``), so it carries the headers the view's answer carries.

Everything else goes on to Django and ``RedemptionListCreateApi`` unchanged: a missing or
unknown key, a throttled till, a malformed body, a request to redirect to HTTPS, and every
refusal or error of the service. A refusal writes nothing, and a success is recorded under
its Idempotency-Key, so the view running the same request again gives the answer it would
have given alone (a retry of a success is a replay). ``tests/merchants/test_fastlane.py``
holds the two paths to the same status, body and headers; the tests' till clients go
through the lane as gunicorn's requests do (``tests/conftest.py``).

On PostgreSQL a sale in the lane is one round trip: the till's key is kept a few seconds per
worker (the database function checks it again), Django's connection health check is not
sent, and a sale that meets a connection that died since the last request is sent again, with
the same Idempotency-Key, on a new one.
"""

import io
import json
import logging
import time

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from core.parsers import parse_json
from merchants.authentication import DevicePrincipal, device_authenticate
from merchants.models import hash_device_key
from merchants.services.redemption import RedemptionResult, voucher_redeem
from merchants.services.tills import Till
from merchants.throttle import unknown_code_throttle_recent

logger = logging.getLogger(__name__)

REDEEM_PATH = "/api/v1/redemptions/"
MAX_BODY = 4096
# The middleware that only adds headers to answers, first in settings.MIDDLEWARE (a test
# holds the two lists together): the lane's answers get them as the view's do.
HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
)


class TillFastLane:
    """WSGI application: the till's ordinary sale answered here, the rest by ``application``."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if is_lane_request(environ):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if 0 < length <= MAX_BODY:
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
                signals.request_started.send(sender=self.__class__, environ=environ)
                response = answer(WSGIRequest(environ))
                if response is not None:
                    # As Django's WSGIHandler answers: closing the response (the server does)
                    # sends request_finished.
                    response._handler_class = self.__class__
                    start_response(
                        f"{response.status_code} {response.reason_phrase}",
                        list(response.items()),
                    )
                    return response
                environ["wsgi.input"] = io.BytesIO(body)  # for Django to read again
        return self.application(environ, start_response)


def is_lane_request(environ) -> bool:
    return (
        settings.TILL_FAST_LANE
        and environ.get("REQUEST_METHOD") == "POST"
        and environ.get("PATH_INFO") == REDEEM_PATH
        and environ.get("HTTP_AUTHORIZATION", "").startswith("Token ")
    )


_header_middleware: list | None = None
# The headers that middleware adds to the lane's answer, by scheme: they depend on the
# settings and on whether the request came over HTTPS (HSTS), not on the sale.
_security_headers: dict[str, list[tuple[str, str]]] = {}


def header_middleware() -> list:
    global _header_middleware
    if _header_middleware is None:
        _header_middleware = [import_string(path)(_no_view) for path in HEADER_MIDDLEWARE]
    return _header_middleware


def security_headers(request) -> list[tuple[str, str]]:
    """What the header middleware adds to a 201 of the lane, worked out once per scheme."""
    headers = _security_headers.get(request.scheme)
    if headers is None:
        probe = HttpResponse(status=201, content_type="application/json")
        before = set(probe.headers)
        for middleware in reversed(header_middleware()):
            probe = middleware.process_response(request, probe)
        headers = [(name, value) for name, value in probe.items() if name not in before]
        _security_headers[request.scheme] = headers
    return headers


@receiver(setting_changed)
def _settings_changed(**kwargs):
    # The middleware reads its settings when built, as Django's stack builds it: in tests that
    # change them, built again.
    global _header_middleware
    _header_middleware = None
    _security_headers.clear()


def _no_view(request):  # the header middleware's get_response, never called by the lane
    raise AssertionError("the fast lane's header middleware has no view")


def answer(request: WSGIRequest) -> HttpResponse | None:
    """The answer for an ordinary redemption, or None to let Django and the view answer."""
    if not is_lane_request(request.META):
        return None
    try:
        security = header_middleware()
        if security[0].process_request(request) is not None:
            return None  # the redirect to HTTPS is the stack's to give
        response = redeem(request)
        if response is None:
            return None
        for name, value in security_headers(request):
            response[name] = value
    except Exception:
        # A host not allowed, say: the stack answers it as it answers any request (a sale
        # already made is then a replay).
        logger.debug("Fast lane passes the request to the stack", exc_info=True)
        return None
    return response


def redeem(request) -> HttpResponse | None:
    """The redemption's 201, or None if the view must answer."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    key = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    if content_type != "application/json" or not key:
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    try:
        request.get_host()  # ALLOWED_HOSTS, as the view's stack would check it
        # The API's parser, with its depth limit: a body it refuses, the view refuses too.
        body = parse_json(request.body)
    except Exception:
        return None
    if not isinstance(body, dict) or not set(body) <= {"code", "amount"}:
        return None
    code, amount = body.get("code"), body.get("amount")
    if not isinstance(code, str) or not 0 < len(code.strip()) <= 64:
        return None
    # The schema's amount is a string (or absent): anything else is the view's to refuse.
    if not (amount is None or isinstance(amount, str)):
        return None
    parts = request.META["HTTP_AUTHORIZATION"].split()
    if len(parts) != 2:
        return None
    try:
        device = till_device(parts[1])
        if device is None:
            return None
        principal = DevicePrincipal(device)
        till = Till(merchant=principal.merchant, device=device)
        request.user = principal
        if unknown_code_throttle_recent(request, till) is not None:
            return None
        result = redeem_reconnecting(
            till=till,
            code=code.strip(),
            amount=amount,
            idempotency_key=key,
        )
    except Exception:
        # A refusal, a database error, anything: the view runs it again and answers.
        logger.debug("Fast lane passes the redemption to the view", exc_info=True)
        return None
    return created_response(
        result, translation.get_language_from_request(request, check_path=False)
    )


# On PostgreSQL the lane keeps each till's key a few seconds per worker, so that a sale is
# one round trip: the database function checks again, under the sale's own transaction,
# that the key is not revoked and that the shop may sell (a stale entry ends in a refusal,
# which the view then answers with a fresh look-up). SQLite's ORM path does not check, so
# there the key is read every time.
DEVICE_CACHE_SECONDS = 10.0
DEVICE_CACHE_SIZE = 10_000
_recent_devices: dict[str, tuple[float, object]] = {}


def till_device(raw_key: str):
    """The till's device key (with its shop) for a raw key, or None if there is none."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return authenticate_reconnecting(raw_key)
    key_hash = hash_device_key(raw_key)
    now = time.monotonic()
    recent = _recent_devices.get(key_hash)
    if recent is not None and now - recent[0] < DEVICE_CACHE_SECONDS:
        skip_health_check(connection)
        return recent[1]
    device = authenticate_reconnecting(raw_key)
    if device is not None:
        if len(_recent_devices) >= DEVICE_CACHE_SIZE:
            _recent_devices.clear()
        _recent_devices[key_hash] = (now, device)
    return device


def skip_health_check(connection) -> None:
    """Spare the request the health check's ``SELECT 1``: the lane reconnects by itself."""
    if connection.connection is not None and not connection.in_atomic_block:
        connection.health_check_done = True


def redeem_reconnecting(**arguments):
    """``voucher_redeem``, sent once more on a new connection if the old one had died.

    A connection that dies between two requests (a database restart, a dropped link) fails
    the next statement. Sending the redemption again with the same Idempotency-Key is safe:
    if the first attempt had committed before the connection went, this one replays it;
    otherwise this one is the only one.
    """
    try:
        return voucher_redeem(**arguments)
    except (OperationalError, InterfaceError):
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
        return voucher_redeem(**arguments)


def authenticate_reconnecting(raw_key: str):
    """The device key's lookup, as the first statement of the request, without a health check.

    Django's connection health check (``CONN_HEALTH_CHECKS``) sends a ``SELECT 1`` before a
    request's first statement. Here that first statement is the key's lookup, which writes
    nothing: it is sent without the check, and if the connection turns out to have died
    since the last request, it is closed and the lookup sent once more on a new one, which
    is what the check would have done.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.connection is None or connection.in_atomic_block:
        return device_authenticate(raw_key)
    skip_health_check(connection)
    try:
        return device_authenticate(raw_key)
    except (OperationalError, InterfaceError):
        if connection.is_usable():
            raise
        connection.close()
        return device_authenticate(raw_key)


def redemption_representation(redemption) -> dict:
    """What ``RedemptionOutputSerializer`` renders for a redemption, without its machinery."""
    zone = timezone.get_current_timezone()
    created_at = redemption.created_at.astimezone(zone)
    voided_at = redemption.voided_at and redemption.voided_at.astimezone(zone)
    return {
        "id": redemption.pk,
        "amount": f"{redemption.amount:.2f}",
        "balance_after": f"{redemption.balance_after:.2f}",
        "holder_name": redemption.voucher.beneficiary.full_name,
        "created_at": _iso(created_at),
        "receipt_number": redemption.receipt_number,
        "status": str(redemption.status),
        "voided_at": _iso(voided_at) if voided_at else None,
    }


def _iso(value) -> str:
    # As DRF renders a datetime: ISO 8601 with the offset, "Z" for UTC.
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def created_response(result: RedemptionResult, language: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(
            redemption_representation(result.redemption),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode(),
        status=201,
        content_type="application/json",
    )
    # The headers the view's stack gives its answer.
    response["Content-Length"] = str(len(response.content))
    response["Vary"] = "Accept-Language"
    response["Allow"] = "GET, POST, HEAD, OPTIONS"
    response["Content-Language"] = language
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response
