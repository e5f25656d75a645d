"""The throttle of unknown codes: a till or a network address that sends too many codes no
voucher has is refused for the rest of the window (``rate_limited``, with ``Retry-After``).

Both edges of the tills use it: the API's views (``merchants.api``) and the fast lane
(``merchants.fastlane``).
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from rest_framework.response import Response

from core.api import error_response
from core.client_address import client_ip
from core.rate_limits import Counter, attempt_count, limit_reached
from merchants.errors import RedemptionError
from merchants.services.tills import Till

# Unknown codes are counted in the cache (Redis in production, shared by every app server),
# per till and per client address, in fixed windows: the limit is read on every check and
# redemption, so it must not cost a database query. RefusedAttempt stays the audit trail.


def throttle_clock() -> float:
    """The current time in seconds; the tests move it forward instead of sleeping."""
    return time.time()


@dataclass(frozen=True, slots=True)
class UnknownCodeWindow:
    """The counters a request's unknown codes go to in the current window, with their limits."""

    limits: dict[str, int]
    seconds: int
    remaining: float

    @property
    def counters(self) -> list[Counter]:
        return [
            Counter(key=key, limit=limit, seconds=self.seconds)
            for key, limit in self.limits.items()
        ]

    @property
    def retry_after(self) -> str:
        return str(max(math.ceil(self.remaining), 1))


def unknown_code_window(request: HttpRequest, till: Till) -> UnknownCodeWindow:
    seconds = max(settings.VOUCHER_UNKNOWN_CODE_WINDOW_SECONDS, 1)
    now = throttle_clock()
    window = int(now // seconds)
    limits = {}
    if till.device is not None:
        limits[f"unknown-codes:device:{till.device.pk}:{window}"] = (
            settings.VOUCHER_UNKNOWN_CODE_LIMIT
        )
    elif getattr(till.user, "pk", None) is not None:
        limits[f"unknown-codes:user:{till.user.pk}:{window}"] = settings.VOUCHER_UNKNOWN_CODE_LIMIT
    ip = client_ip(request)
    if ip is not None:
        limits[f"unknown-codes:ip:{ip}:{window}"] = settings.VOUCHER_UNKNOWN_CODE_IP_LIMIT
    return UnknownCodeWindow(limits=limits, seconds=seconds, remaining=(window + 1) * seconds - now)


def unknown_code_throttle(request: HttpRequest, till: Till) -> Response | None:
    """Refuse a till or an address that sent too many unknown codes in this window."""
    current = unknown_code_window(request, till)
    # A cache outage must not stop the tills: without counters nothing is throttled.
    if limit_reached(current.counters):
        error = RedemptionError("rate_limited")
        return error_response(
            error.code, error.detail, headers={"Retry-After": current.retry_after}
        )
    return None


# Per process: the counters' keys (till and address, this window) last found under their
# limits, with when that answer expires (VOUCHER_THROTTLE_CLEAN_SECONDS).
_recently_clean: dict[tuple[str, ...], float] = {}
RECENTLY_CLEAN_SIZE = 10_000


def unknown_code_throttle_recent(request: HttpRequest, till: Till) -> Response | None:
    """``unknown_code_throttle`` for a till's sale, sparing the cache a read for a till
    found under its limits less than ``VOUCHER_THROTTLE_CLEAN_SECONDS`` ago."""
    seconds = settings.VOUCHER_THROTTLE_CLEAN_SECONDS
    if seconds <= 0:
        return unknown_code_throttle(request, till)
    keys = tuple(unknown_code_window(request, till).limits)
    now = time.monotonic()
    if _recently_clean.get(keys, 0.0) > now:
        return None
    refusal = unknown_code_throttle(request, till)
    if refusal is None:
        if len(_recently_clean) >= RECENTLY_CLEAN_SIZE:
            _recently_clean.clear()
        _recently_clean[keys] = now + seconds
    return refusal


def unknown_code_count(request: HttpRequest, till: Till) -> None:
    """Count one unknown code against the till and against its address."""
    # This process's tills are checked afresh from now on.
    _recently_clean.clear()
    current = unknown_code_window(request, till)
    attempt_count(current.counters)
