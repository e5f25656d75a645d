"""The address of the device that made a request, behind the reverse proxies we trust.

Used by the login lockouts (``AXES_CLIENT_IP_CALLABLE``), the app's rate limits and the
redemption API's counters, so that all of them agree on who is asking.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when the request carries no usable one.

    Behind ``AXES_IPWARE_PROXY_COUNT`` reverse proxies, each appending the address it saw to
    ``X-Forwarded-For``, the client is that many entries from the right: entries further
    left were written by the client itself and could be anything. Without proxies the
    address is the connection's own (``REMOTE_ADDR``), whatever the headers say.
    """
    proxies = settings.AXES_IPWARE_PROXY_COUNT or 0
    candidate = request.META.get("REMOTE_ADDR") or ""
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
