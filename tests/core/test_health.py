import secrets

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


TOKEN = "monitor-" + "x" * 40


@pytest.fixture
def no_worker_ping(monkeypatch):
    """Fail the test if anything pings the task workers (the ping waits up to a second)."""
    from config.celery import app

    def ping(*args, **kwargs):
        raise AssertionError("the public health check must not ping the workers")

    monkeypatch.setattr(app.control, "ping", ping)


@override_settings(REDIS_URL="redis://127.0.0.1:1/0", CELERY_TASK_ALWAYS_EAGER=False)
def test_the_public_health_check_answers_without_queries_redis_or_workers(
    no_worker_ping, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@override_settings(HEALTH_CHECK_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong",
        f"Token {TOKEN}",
        f"Bearer {TOKEN}x",
        "Bearer " + TOKEN[:-1],
    ],
)
def test_the_deep_check_is_refused_without_the_monitoring_token(
    no_worker_ping, django_assert_num_queries, authorization
):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    with django_assert_num_queries(0):
        response = Client().get("/health/deep/", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.json()["detail"]


@override_settings(HEALTH_CHECK_TOKEN="")
def test_without_a_configured_token_nobody_gets_the_deep_check(no_worker_ping):
    for authorization in ("Bearer ", "Bearer", "Bearer  "):
        response = Client().get("/health/deep/", HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 401


@override_settings(HEALTH_CHECK_TOKEN=TOKEN, REDIS_URL="", CELERY_TASK_ALWAYS_EAGER=True)
def test_the_deep_check_with_the_token_reports_the_database_and_inline_tasks(monkeypatch):
    compared = []
    real = secrets.compare_digest

    def compare(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secrets, "compare_digest", compare)
    response = Client().get("/health/deep/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not_configured", "workers": "inline"},
    }
    assert compared  # the token is compared in constant time


@override_settings(HEALTH_CHECK_TOKEN=TOKEN, REDIS_URL="redis://127.0.0.1:1/0")
def test_the_deep_check_is_503_when_redis_is_unreachable():
    response = Client().get("/health/deep/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


@override_settings(
    HEALTH_CHECK_TOKEN=TOKEN, REDIS_URL="redis://127.0.0.1:1/0", CELERY_TASK_ALWAYS_EAGER=False
)
def test_the_deep_check_reports_workers_that_do_not_answer(monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.control, "ping", lambda timeout: [])
    response = Client().get("/health/deep/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "no_workers"


def test_app_pages_get_a_strict_policy_and_the_admin_a_looser_one(admin_client):
    page = Client().get("/")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "unsafe-eval" not in page["Content-Security-Policy"]
    admin = admin_client.get("/admin/")
    assert "unsafe-eval" in admin["Content-Security-Policy"]
