import pytest
from django.core.cache import cache
from django.db import connection
from django.test.client import ClientHandler
from django.utils import translation
from rest_framework.test import APIClient

from merchants import fastlane
from tests import factories


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``postgresql`` on another database.

    ``make test`` runs them again on PostgreSQL when it answers (``make test-pg``: the whole
    suite there), so the production path is not left out on a developer's machine.
    """
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(
        reason=f"needs PostgreSQL (this run is on {connection.vendor}; make test runs it "
        "when PostgreSQL answers)"
    )
    for item in items:
        if item.get_closest_marker("postgresql") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _till_fast_lane(monkeypatch):
    """Test clients are served as ``config/wsgi.py`` serves gunicorn's requests.

    There the till's fast lane (``merchants.fastlane.TillFastLane``) answers an ordinary sale
    before Django's stack; here the test client's handler asks it first in the same way, so
    every test of the redemption API goes through the path the tills take.
    """
    stack = ClientHandler.get_response

    def get_response(self, request):
        response = fastlane.answer(request)
        return stack(self, request) if response is None else response

    monkeypatch.setattr(ClientHandler, "get_response", get_response)


@pytest.fixture(autouse=True)
def _default_language():
    """End every test in the default language: a request in English through the test client
    leaves English active in this thread, and the next test would read English sentences."""
    yield
    translation.deactivate()  # back to LANGUAGE_CODE, as every test starts


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache: the API's rate-limit counters live there (and
    each process remembers a moment which tills were under their limits)."""
    from merchants.throttle import _recently_clean

    cache.clear()
    _recently_clean.clear()
    yield
    cache.clear()
    _recently_clean.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def circuit(db):
    """A call with €100 vouchers, a shop in its circuit with a device key, and one voucher."""
    initiative = factories.initiative()
    shop = factories.merchant(initiative=initiative)
    key = factories.device_key(shop=shop)
    voucher = factories.voucher(initiative=initiative)
    return {"initiative": initiative, "merchant": shop, "key": key, "voucher": voucher}


@pytest.fixture
def till_client(circuit) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {circuit['key']}")
    return client
