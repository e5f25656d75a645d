"""Unknown voucher codes are throttled per till and per client address, in the cache."""

import os
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from merchants import throttle
from merchants.models import Merchant, RefusedAttempt
from tests import factories
from tests.core.test_settings import PROJECT_ROOT, run_production

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/vouchers/check/"
REDEMPTIONS = "/api/v1/redemptions/"
UNKNOWN = "ZZZZZ" * 4
WINDOW = 600


def device_client(shop: Merchant, ip: str = "198.51.100.10") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.device_key(shop=shop)}")
    return client


def redeem(client: APIClient, code: str, amount: str = "10.00", **extra):
    return client.post(
        REDEMPTIONS,
        {"code": code, "amount": amount},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        **extra,
    )


def check(client: APIClient, code: str, **extra):
    return client.post(CHECK, {"code": code}, format="json", **extra)


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "rate_limited"
    assert "codici sconosciuti" in body["detail"]
    assert int(response["Retry-After"]) >= 1


@pytest.fixture
def clock(monkeypatch):
    """A fake clock for the throttle, at the start of a window; move it with ``clock[0] += s``."""
    now = [WINDOW * 3_000_000.0]
    monkeypatch.setattr(throttle, "throttle_clock", lambda: now[0])
    return now


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=3, VOUCHER_UNKNOWN_CODE_IP_LIMIT=100)
def test_a_device_that_sent_too_many_unknown_codes_is_refused_with_429_and_retry_after(
    circuit, clock
):
    shop, voucher = circuit["merchant"], circuit["voucher"]
    client = device_client(shop)
    for send in (redeem, check, redeem):
        assert send(client, UNKNOWN).status_code == 404
    clock[0] += 100

    refused = redeem(client, voucher.code)
    assert_rate_limited(refused)
    assert refused["Retry-After"] == str(WINDOW - 100)
    assert_rate_limited(check(client, voucher.code))
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    # The audit trail keeps the three unknown codes; being throttled debits and logs nothing.
    assert RefusedAttempt.objects.filter(reason="voucher_not_found").count() == 3
    assert RefusedAttempt.objects.count() == 3
    # Another till of the same shop, from the same address, is not punished for it.
    assert redeem(device_client(shop), voucher.code).status_code == 201


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=2, VOUCHER_UNKNOWN_CODE_IP_LIMIT=100)
def test_known_codes_and_other_refusals_do_not_count_towards_the_limit(circuit, clock):
    client = device_client(circuit["merchant"])
    for _ in range(3):
        assert check(client, circuit["voucher"].code).status_code == 200
        assert redeem(client, "ABC").status_code == 400
        assert redeem(client, circuit["voucher"].code, amount="500.00").status_code == 409
    assert redeem(client, circuit["voucher"].code).status_code == 201


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=100, VOUCHER_UNKNOWN_CODE_IP_LIMIT=3)
def test_unknown_codes_from_two_devices_at_one_address_add_up_to_the_address_limit(circuit, clock):
    shop, voucher = circuit["merchant"], circuit["voucher"]
    first, second = device_client(shop, "203.0.113.5"), device_client(shop, "203.0.113.5")
    assert redeem(first, UNKNOWN).status_code == 404
    assert check(first, UNKNOWN).status_code == 404
    assert redeem(second, UNKNOWN).status_code == 404

    assert_rate_limited(redeem(first, voucher.code))
    assert_rate_limited(check(second, voucher.code))
    assert_rate_limited(redeem(device_client(shop, "203.0.113.5"), voucher.code))
    # The same tills from another address are not limited.
    assert redeem(first, voucher.code, REMOTE_ADDR="203.0.113.6").status_code == 201


@override_settings(
    VOUCHER_UNKNOWN_CODE_LIMIT=100, VOUCHER_UNKNOWN_CODE_IP_LIMIT=2, AXES_IPWARE_PROXY_COUNT=1
)
def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(circuit, clock):
    shop, voucher = circuit["merchant"], circuit["voucher"]
    client = device_client(shop, ip="10.0.0.2")  # the reverse proxy
    for spoofed in ("1.1.1.1", "8.8.8.8"):
        # Whatever the client writes on the left, the proxy appended its real address.
        forwarded = f"{spoofed}, 192.0.2.44"
        assert redeem(client, UNKNOWN, HTTP_X_FORWARDED_FOR=forwarded).status_code == 404
    assert set(RefusedAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.44"}

    assert_rate_limited(redeem(client, voucher.code, HTTP_X_FORWARDED_FOR="192.0.2.44"))
    other = device_client(shop, ip="10.0.0.2")
    assert redeem(other, voucher.code, HTTP_X_FORWARDED_FOR="192.0.2.45").status_code == 201


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=2, VOUCHER_UNKNOWN_CODE_IP_LIMIT=2)
def test_the_limit_is_lifted_when_the_window_passes(circuit, clock):
    client = device_client(circuit["merchant"])
    clock[0] += WINDOW - 30
    for _ in range(2):
        assert redeem(client, UNKNOWN).status_code == 404
    refused = redeem(client, circuit["voucher"].code)
    assert_rate_limited(refused)
    assert refused["Retry-After"] == "30"

    clock[0] += 29
    assert_rate_limited(redeem(client, circuit["voucher"].code))
    clock[0] += 1
    assert redeem(client, circuit["voucher"].code).status_code == 201
    # A new window counts from zero.
    assert redeem(client, UNKNOWN).status_code == 404
    assert redeem(client, circuit["voucher"].code).status_code == 201


def test_checking_the_limit_reads_no_refused_attempts_from_the_database(circuit, till_client):
    with CaptureQueriesContext(connection) as queries:
        assert redeem(till_client, circuit["voucher"].code).status_code == 201
        assert check(till_client, circuit["voucher"].code).status_code == 200
    table = RefusedAttempt._meta.db_table
    assert not [q["sql"] for q in queries.captured_queries if table in q["sql"]]


@override_settings(
    VOUCHER_UNKNOWN_CODE_LIMIT=1,
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    },
)
def test_tills_keep_working_when_the_cache_is_down(circuit, till_client):
    assert redeem(till_client, UNKNOWN).status_code == 404
    assert redeem(till_client, UNKNOWN).status_code == 404
    assert redeem(till_client, circuit["voucher"].code).status_code == 201


@pytest.fixture
def redis_cache():
    """The real Redis at REDIS_URL, under a key prefix of this test only, emptied afterwards."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set (CI sets it for the PostgreSQL run)")
    prefix = f"bc-test-{uuid.uuid4().hex}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        from django.core.cache import cache

        client = cache._cache.get_client(write=True)
        try:
            yield client, prefix
        finally:
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=2, VOUCHER_UNKNOWN_CODE_IP_LIMIT=3)
def test_the_limits_work_on_a_real_redis(circuit, clock, redis_cache):
    client_redis, prefix = redis_cache
    shop, voucher = circuit["merchant"], circuit["voucher"]
    first, second = device_client(shop), device_client(shop)
    for _ in range(2):
        assert redeem(first, UNKNOWN).status_code == 404
    assert_rate_limited(check(first, voucher.code))
    assert len(list(client_redis.scan_iter(match=f"{prefix}:*"))) == 2

    assert redeem(second, UNKNOWN).status_code == 404
    assert_rate_limited(redeem(second, voucher.code))  # the address reached 3

    clock[0] += WINDOW
    assert redeem(first, voucher.code).status_code == 201
    assert redeem(second, voucher.code).status_code == 201


def test_production_refuses_to_start_without_redis():
    result = run_production(
        SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="buonocomune.example.org",
        REDIS_URL="",
    )
    assert result.returncode != 0
    assert "REDIS_URL must be set in production" in result.stderr


@pytest.mark.parametrize(
    ("redis_url", "backend"),
    [
        ("redis://127.0.0.1:6379/3", "core.cache.ResilientRedisCache"),
        ("", "django.core.cache.backends.locmem.LocMemCache"),
    ],
)
def test_the_cache_is_redis_when_redis_url_is_set_and_local_memory_otherwise(redis_url, backend):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BUONOCOMUNE_ENV", "DATABASE_URL"} and not key.startswith("PYTEST")
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.base", REDIS_URL=redis_url)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; c = settings.CACHES['default'];"
            "print(c['BACKEND'], c.get('LOCATION', ''))",
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [backend, *([redis_url] if redis_url else [])]
