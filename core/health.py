"""Health check for load balancers and monitoring: database, Redis and task workers."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
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
    from core.celery import app

    replies = app.control.ping(timeout=1.0)
    return "ok" if replies else "no_workers"


@never_cache
@require_GET
def health(request):
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
