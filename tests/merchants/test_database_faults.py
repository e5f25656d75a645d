from decimal import Decimal

import pytest
from django.db import OperationalError

from merchants.models import Redemption

pytestmark = pytest.mark.django_db


def test_a_database_failure_mid_redemption_is_a_clear_503_and_writes_nothing(
    circuit, till_client, monkeypatch
):
    voucher = circuit["voucher"]
    real_create = Redemption.objects.create

    def dropped(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Redemption.objects, "create", dropped)
    body = {"code": voucher.code, "amount": "10.00"}
    response = till_client.post(
        "/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    monkeypatch.setattr(Redemption.objects, "create", real_create)
    retry = till_client.post(
        "/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    again = till_client.post(
        "/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    assert retry.status_code == again.status_code == 201
    assert retry.json()["id"] == again.json()["id"]
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("90.00")
    assert Redemption.objects.count() == 1
