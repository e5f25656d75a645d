"""A real PostgreSQL connection dropped in the middle of a redemption.

The backend serving the request is terminated from a second connection
(``pg_terminate_backend``) at a step of the redemption, so the request's next statement
fails as it would if the database restarted or a network link broke: the till gets a 503
with a code, nothing is half-written, and a retry with the same Idempotency-Key charges once.
"""

import threading
import time
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from core.models import Journal
from core.selectors import unbalanced_journals
from merchants.models import IdempotencyRecord, Redemption, RefusedAttempt
from merchants.selectors import merchant_payable
from tests import factories
from vouchers.selectors.holders import voucher_ledger_balance

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: it terminates the request's database backend "
        "(run with DATABASE_URL=postgres://…)",
    ),
]

REDEEM_URL = "/api/v1/redemptions/"


def terminate_request_backend() -> int:
    """Kill the backend of this thread's database connection from another connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _connect(autocommit=True) as killer:
        assert killer.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        # Termination is asynchronous: wait until the backend is really gone.
        for _ in range(200):
            if not killer.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone():
                return pid
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still alive")


@pytest.fixture
def shop():
    initiative = factories.initiative()
    merchant = factories.merchant(initiative=initiative)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.device_key(shop=merchant)}")
    return {
        "merchant": merchant,
        "voucher": factories.voucher(initiative=initiative),
        "client": client,
    }


def _connect(**options):
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        **options,
    )


@contextmanager
def drop_connection_before_the_statement():
    """Kill the request's backend just before it sends the redemption."""
    killed: list[int] = []

    def dropping(execute, sql, params, many, context):
        if "bc_voucher_redeem(" in sql and not killed:
            killed.append(terminate_request_backend())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(dropping):
        yield killed


@contextmanager
def drop_connection_while_it_waits(lock_sql: str, lock_params: list):
    """Hold a row lock the redemption needs midway, and kill its backend while it waits.

    A second connection locks the row in an open transaction; the request's statement runs
    up to that row and waits; a watcher sees the request's backend waiting on the lock and
    terminates it, then the lock is released. Everything the statement wrote before the
    wait was in its transaction, which dies with the backend.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    killed: list[int] = []
    holder = _connect()
    holder.execute(lock_sql, lock_params)

    def watch():
        with _connect(autocommit=True) as watcher:
            for _ in range(1000):
                row = watcher.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone()
                if row and row[0] == "Lock":
                    watcher.execute("SELECT pg_terminate_backend(%s)", [pid])
                    killed.append(pid)
                    holder.rollback()  # a new attempt may take the row at once
                    return
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield killed
    finally:
        watcher.join()
        holder.rollback()
        holder.close()


def drop_at(step: str, shop: dict):
    voucher = shop["voucher"]
    if step == "before the statement":
        return drop_connection_before_the_statement()
    if step == "waiting for the voucher's lock":
        # Stopped after the Idempotency-Key lookup, at the voucher's row lock.
        return drop_connection_while_it_waits(
            "SELECT 1 FROM vouchers_voucher WHERE id = %s FOR UPDATE", [voucher.pk]
        )
    # Stopped after the voucher's debit and the journal, writing the postings: their
    # foreign key needs a share lock on the ledger account, held here.
    return drop_connection_while_it_waits(
        "SELECT 1 FROM core_account WHERE key = %s FOR UPDATE",
        [f"initiative:{voucher.initiative_id}:outstanding"],
    )


STEPS = ["before the statement", "waiting for the voucher's lock", "writing the postings"]


@pytest.mark.parametrize("step", STEPS)
def test_a_connection_dropped_mid_redemption_is_a_503_and_a_retry_charges_once(shop, step):
    """The view's answer: a 503 with nothing written, and the till's retry charges once."""
    voucher, client = shop["voucher"], shop["client"]
    journals_before = Journal.objects.count()
    body = {"code": voucher.grouped_code, "amount": "12.50"}

    with override_settings(TILL_FAST_LANE=False), drop_at(step, shop) as killed:
        response = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sale-7")

    assert killed, "the backend was never terminated"
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "service_unavailable"
    assert response.json()["detail"]
    assert response["Retry-After"] == "5"
    # Nothing of the redemption survived the dropped connection (a new one answers these).
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("100.00")
    assert not Redemption.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert Journal.objects.count() == journals_before
    assert not RefusedAttempt.objects.exists()
    assert not unbalanced_journals().exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != killed[0]

    retry = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sale-7")
    again = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sale-7")

    assert retry.status_code == 201, retry.content
    assert "Idempotent-Replayed" not in retry
    assert again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    charged_once(shop, journals_before)


@pytest.mark.parametrize("step", STEPS)
def test_the_fast_lane_sends_a_sale_again_on_a_new_connection_and_charges_once(shop, step):
    """The lane's answer: it sends the sale again on a new connection, with the same key."""
    voucher, client = shop["voucher"], shop["client"]
    journals_before = Journal.objects.count()
    body = {"code": voucher.grouped_code, "amount": "12.50"}

    with drop_at(step, shop) as killed:
        response = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sale-7")

    assert killed, "the backend was never terminated"
    assert response.status_code == 201, response.content
    assert response.json()["balance_after"] == "87.50"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != killed[0]
    again = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sale-7")
    assert again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == response.json()
    charged_once(shop, journals_before)


def charged_once(shop, journals_before):
    voucher = shop["voucher"]
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("87.50")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("87.50")
    assert Redemption.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert Journal.objects.count() == journals_before + 1
    assert merchant_payable(merchant_id=shop["merchant"].pk) == Decimal("12.50")
    assert not unbalanced_journals().exists()


def test_a_connection_that_died_between_two_sales_is_replaced_before_the_next(shop):
    """What the connection health check does, the till's fast lane does without its cost."""
    voucher, client = shop["voucher"], shop["client"]
    body = {"code": voucher.code, "amount": "1.00"}
    assert client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="a").status_code == 201
    killed = terminate_request_backend()

    response = client.post(REDEEM_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="b")

    assert response.status_code == 201, response.content
    assert response.json()["balance_after"] == "98.00"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != killed
    assert Redemption.objects.count() == 2
