"""Health checks: a cheap public liveness answer, and a deep check behind a token.

``/health/`` tells a load balancer that this app server answers; it reads nothing, so any
number of clients cannot slow the tills down with it. ``/health/deep/`` checks the database,
Redis and the task workers (the workers' ping waits up to a second): only for a monitor that
sends ``Authorization: Bearer <HEALTH_CHECK_TOKEN>``; without that setting nobody gets it.
"""

from __future__ import annotations

import secrets

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not_configured"
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    return "ok"


def _workers() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "inline"
    # The project's Celery app (config/celery.py), which Django's start-up made current.
    replies = current_app.control.ping(timeout=1.0)
    return "ok" if replies else "no_workers"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: this process answers requests. No query, no network."""
    return JsonResponse({"status": "ok"})


def deep_check_allowed(request: HttpRequest) -> bool:
    """Whether the request carries the configured health-check token (compared in constant
    time); with no token configured, no request does."""
    token = settings.HEALTH_CHECK_TOKEN
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def health_deep(request: HttpRequest) -> JsonResponse:
    """Readiness for monitoring: the database, Redis and the task workers."""
    if not deep_check_allowed(request):
        return JsonResponse(
            {
                "code": "not_authenticated",
                "detail": _("Il controllo completo richiede il token di monitoraggio."),
            },
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    checks = {}
    healthy = True
    for name, check in (("database", _database), ("redis", _redis), ("workers", _workers)):
        try:
            checks[name] = check()
        except Exception as error:  # a health check reports every failure, whatever its type
            checks[name] = f"error: {type(error).__name__}"
        if checks[name] not in ("ok", "inline", "not_configured"):
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
