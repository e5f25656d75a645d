import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@override_settings(REDIS_URL="", CELERY_TASK_ALWAYS_EAGER=True)
def test_health_reports_the_database_and_inline_tasks():
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not_configured", "workers": "inline"},
    }


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_health_is_503_when_redis_is_unreachable():
    response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def test_app_pages_get_a_strict_policy_and_the_admin_a_looser_one(admin_client):
    page = Client().get("/")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "unsafe-eval" not in page["Content-Security-Policy"]
    admin = admin_client.get("/admin/")
    assert "unsafe-eval" in admin["Content-Security-Policy"]
