from decimal import Decimal

import pytest
from django.db import OperationalError, connection

from merchants.models import Redemption

pytestmark = pytest.mark.django_db


def test_a_database_failure_mid_redemption_is_a_clear_503_and_writes_nothing(circuit, till_client):
    voucher = circuit["voucher"]

    def dropped(execute, sql, params, many, context):
        # The statement that writes the redemption: the ORM's INSERT on SQLite, the
        # one-statement function on PostgreSQL. The connection "drops" as it is sent.
        if 'INSERT INTO "merchants_redemption"' in sql or "bc_voucher_redeem(" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    body = {"code": voucher.code, "amount": "10.00"}
    with connection.execute_wrapper(dropped):
        response = till_client.post(
            "/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1"
        )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    assert not Redemption.objects.exists()
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
