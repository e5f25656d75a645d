import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache: the API's rate-limit counters live there."""
    cache.clear()
    yield
    cache.clear()


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
