"""Production settings refuse to start without a real secret key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import django\n"
    "from django.conf import settings\n"
    "django.setup()\n"
    "print(settings.DEBUG, ','.join(settings.ALLOWED_HOSTS), settings.SESSION_COOKIE_SECURE)\n"
)


def run_production(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        and not key.startswith("PYTEST")
    }
    environment.update(
        BUONOCOMUNE_ENV="production", DJANGO_SETTINGS_MODULE="config.settings.production", **env
    )
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "secret",
    [None, "", "too-short", "dev-only-insecure-secret-key-change-me-0123456789-abcdefghijklmnop"],
)
def test_production_settings_refuse_a_missing_short_or_development_secret_key(secret):
    env = {} if secret is None else {"SECRET_KEY": secret}
    result = run_production(ALLOWED_HOSTS="buonocomune.example.org", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_load_with_a_long_secret_key_and_allowed_hosts():
    result = run_production(
        SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="buonocomune.example.org, www.buonocomune.example.org",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "buonocomune.example.org,www.buonocomune.example.org",
        "True",
    ]


def test_production_locks_logins_by_user_and_the_address_the_proxy_appended():
    script = (
        "import django\n"
        "django.setup()\n"
        "from axes.helpers import get_client_ip_address\n"
        "from django.conf import settings\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().post('/admin/login/', REMOTE_ADDR='10.0.0.2',\n"
        "    HTTP_X_FORWARDED_FOR='192.0.2.1, 203.0.113.7')\n"
        "print(get_client_ip_address(request), settings.AXES_LOCKOUT_PARAMETERS)\n"
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "AXES_PROXY_COUNT"} and not key.startswith("PYTEST")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="buonocomune.example.org",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "203.0.113.7 [['username', 'ip_address']]"
