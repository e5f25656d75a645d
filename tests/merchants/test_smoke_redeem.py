from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db


def test_redeem_debits_the_voucher_once_per_idempotency_key(circuit, till_client):
    voucher = circuit["voucher"]
    body = {"code": voucher.grouped_code.lower(), "amount": "12.50"}
    first = till_client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = till_client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201, first.json()
    assert again.status_code == 201
    assert again.json() == first.json()
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("87.50")
    assert first.json()["balance_after"] == "87.50"
