"""Redemptions from many tills at once, with real threads against PostgreSQL.

Each test releases its threads together with a barrier so that their transactions really
overlap, then checks invariants that hold whatever order the database chose: no voucher
goes below zero, its balance is what the ledger says, every key debits at most once.
"""

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from core.models import Journal
from core.selectors import unbalanced_journals
from merchants.models import IdempotencyRecord, Redemption, RefusedAttempt
from merchants.selectors import merchant_payable
from tests import factories
from vouchers.models import Voucher
from vouchers.selectors.holders import voucher_ledger_balance

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises every writer, so threads never race there "
        "(run with DATABASE_URL=postgres://…)",
    ),
]

REDEEM_URL = "/api/v1/redemptions/"
BARRIER_TIMEOUT = 20


def run_together(count: int, work: Callable[[int, APIClient], object], key: str) -> list:
    """Run ``work(index, client)`` in ``count`` threads released at the same instant.

    Each thread opens its own database connection before the barrier (so that connecting
    does not spread the threads out) and closes it at the end.
    """
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)

    def thread_main(index: int):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            connection.ensure_connection()
            barrier.wait()
            return work(index, client)
        except BaseException:
            barrier.abort()  # never leave the other threads waiting for this one
            raise
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(thread_main, index) for index in range(count)]
        return [future.result(timeout=60) for future in futures]


def redeem(client: APIClient, *, code: str, amount: str, key: str):
    response = client.post(
        REDEEM_URL, {"code": code, "amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    return response.status_code, response.json()


def assert_voucher_matches_ledger(voucher: Voucher) -> None:
    voucher.refresh_from_db()
    confirmed = sum(
        (r.amount for r in voucher.redemptions.filter(status=Redemption.Status.CONFIRMED)),
        Decimal("0.00"),
    )
    assert voucher.balance >= 0
    assert voucher.balance == voucher.face_value - confirmed
    assert voucher_ledger_balance(voucher_id=voucher.pk) == voucher.balance
    expected_status = Voucher.Status.EXHAUSTED if voucher.balance == 0 else Voucher.Status.ACTIVE
    assert voucher.status == expected_status


@pytest.fixture
def shop():
    """A call with €100 partial vouchers and a shop of its circuit with a device key."""
    initiative = factories.initiative(budget="10000.00")
    merchant = factories.merchant(initiative=initiative)
    return {
        "initiative": initiative,
        "merchant": merchant,
        "key": factories.device_key(shop=merchant),
    }


def test_concurrent_redemptions_never_overspend_a_voucher(shop):
    vouchers = [factories.voucher(initiative=shop["initiative"]) for _ in range(3)]
    threads, attempts = 16, 8

    def work(index: int, client: APIClient):
        # A fixed seed per thread: the amounts are the same on every run, only the
        # interleaving changes. 16 × 8 attempts of €1–€15 ask for far more than €300.
        rng = random.Random(index)
        outcomes = []
        for attempt in range(attempts):
            voucher = rng.choice(vouchers)
            amount = f"{rng.randint(100, 1500) / 100:.2f}"
            status, body = redeem(
                client, code=voucher.code, amount=amount, key=f"t{index}-a{attempt}"
            )
            outcomes.append((voucher.pk, Decimal(amount), status, body))
        return outcomes

    outcomes = [o for per_thread in run_together(threads, work, shop["key"]) for o in per_thread]

    assert len(outcomes) == threads * attempts
    successes = [o for o in outcomes if o[2] == 201]
    refusals = [o for o in outcomes if o[2] != 201]
    assert successes, "no redemption went through"
    assert refusals, "the attempts should have asked for more than the vouchers hold"
    assert {(status, body["code"]) for _, _, status, body in refusals} <= {
        (409, "insufficient_balance"),
        (409, "voucher_exhausted"),
    }
    assert Redemption.objects.count() == len(successes)
    assert RefusedAttempt.objects.count() == len(refusals)
    for voucher in vouchers:
        assert_voucher_matches_ledger(voucher)
        debited = sum((o[1] for o in successes if o[0] == voucher.pk), Decimal("0.00"))
        assert voucher.balance == voucher.face_value - debited
        # Redemptions of one voucher are serialised by its row lock: in id order, each
        # balance_after is the previous one minus the amount.
        balance = voucher.face_value
        for redemption in voucher.redemptions.order_by("pk"):
            balance -= redemption.amount
            assert redemption.balance_after == balance
    assert merchant_payable(merchant_id=shop["merchant"].pk) == sum(o[1] for o in successes)
    assert not unbalanced_journals().exists()


def test_concurrent_retries_with_one_idempotency_key_debit_once(shop):
    voucher = factories.voucher(initiative=shop["initiative"])
    threads = 12

    def work(index: int, client: APIClient):
        return redeem(client, code=voucher.grouped_code, amount="12.50", key="sale-42")

    results = run_together(threads, work, shop["key"])

    assert [status for status, _ in results] == [201] * threads, results
    assert len({body["id"] for _, body in results}) == 1
    assert {body["balance_after"] for _, body in results} == {"87.50"}
    assert Redemption.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert Journal.objects.filter(kind=Journal.Kind.REDEMPTION).count() == 1
    assert not RefusedAttempt.objects.exists()
    assert_voucher_matches_ledger(voucher)
    assert voucher.balance == Decimal("87.50")


def test_concurrent_requests_reusing_a_key_for_another_body_are_refused(shop):
    vouchers = [factories.voucher(initiative=shop["initiative"]) for _ in range(2)]
    threads = 12

    def body_of(index: int) -> tuple[Voucher, str]:
        # Half the bodies differ by amount on one voucher, half name the other voucher.
        return vouchers[index % 2], f"{index + 1}.00"

    def work(index: int, client: APIClient):
        voucher, amount = body_of(index)
        return redeem(client, code=voucher.code, amount=amount, key="same-key")

    results = run_together(threads, work, shop["key"])

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: threads - 1}, results
    assert {body["code"] for status, body in results if status == 409} == {"idempotency_key_reused"}
    winner = next(index for index, (status, _) in enumerate(results) if status == 201)
    winner_voucher, winner_amount = body_of(winner)
    redemption = Redemption.objects.get()
    assert (redemption.voucher_id, redemption.amount) == (winner_voucher.pk, Decimal(winner_amount))
    assert results[winner][1]["id"] == redemption.pk
    assert IdempotencyRecord.objects.get().redemption_id == redemption.pk
    assert RefusedAttempt.objects.filter(reason="idempotency_key_reused").count() == threads - 1
    for voucher in vouchers:
        assert_voucher_matches_ledger(voucher)
        expected = Decimal("100.00") - (redemption.amount if voucher == winner_voucher else 0)
        assert voucher.balance == expected


def test_concurrent_voids_and_redemptions_keep_the_ledger_consistent(shop):
    voucher = factories.voucher(initiative=shop["initiative"])
    setup_client = APIClient()
    setup_client.credentials(HTTP_AUTHORIZATION=f"Token {shop['key']}")
    first = []
    for n in range(5):
        status, body = redeem(setup_client, code=voucher.code, amount="15.00", key=f"pre-{n}")
        assert status == 201, body
        first.append(body["id"])
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("25.00")
    # Ten threads void the five redemptions (each one twice) while six others spend €20
    # each: how many spends fit depends on the order, the books must balance anyway.
    voiders, spenders = 10, 6

    def work(index: int, client: APIClient):
        if index < voiders:
            redemption_id = first[index % len(first)]
            response = client.post(f"/api/v1/redemptions/{redemption_id}/void/")
            return ("void", redemption_id, response.status_code, response.json())
        status, body = redeem(client, code=voucher.code, amount="20.00", key=f"spend-{index}")
        return ("redeem", None, status, body)

    results = run_together(voiders + spenders, work, shop["key"])

    voids = [r for r in results if r[0] == "void"]
    for redemption_id in first:
        answers = sorted(
            (status, body.get("code")) for _, rid, status, body in voids if rid == redemption_id
        )
        assert answers == [(200, None), (409, "already_voided")], answers
    spends = [r for r in results if r[0] == "redeem"]
    spent = [r for r in spends if r[2] == 201]
    assert {(status, body["code"]) for _, _, status, body in spends if status != 201} <= {
        (409, "insufficient_balance"),
        (409, "voucher_exhausted"),
    }
    # The first spend to take the lock finds at least €25 (voids only add), so one fits.
    assert spent
    assert Redemption.objects.filter(pk__in=first, status=Redemption.Status.VOIDED).count() == 5
    assert Journal.objects.filter(kind=Journal.Kind.REDEMPTION_VOID).count() == 5
    assert_voucher_matches_ledger(voucher)
    assert voucher.balance == Decimal("100.00") - Decimal("20.00") * len(spent)
    assert merchant_payable(merchant_id=shop["merchant"].pk) == Decimal("20.00") * len(spent)
    assert not unbalanced_journals().exists()


LOOKUP_URL = "/api/v1/redemptions/lookup/"


def test_lookups_racing_a_sale_with_its_key_never_let_a_not_found_be_charged(shop):
    """Tills asking about a sale while it is still on its way, many times over.

    Whatever the order, the voucher is debited at most once, and not at all once any
    look-up answered "not found": the sale then arrives to a closed key.
    """
    seen = Counter()
    for round_number in range(6):
        voucher = factories.voucher(initiative=shop["initiative"])
        key = f"racing-{round_number}"

        def work(index: int, client: APIClient, voucher=voucher, key=key):
            if index % 2:
                response = client.get(LOOKUP_URL, HTTP_IDEMPOTENCY_KEY=key)
                return "lookup", response.status_code, response.json()
            # Spread the sales a little, so that some arrive before and some after the asking.
            threading.Event().wait(random.uniform(0, 0.01))
            status, body = redeem(client, code=voucher.code, amount="20.00", key=key)
            return "redeem", status, body

        results = run_together(8, work, shop["key"])
        lookups = [(status, body) for kind, status, body in results if kind == "lookup"]
        sales = [(status, body) for kind, status, body in results if kind == "redeem"]
        redemptions = list(Redemption.objects.filter(voucher=voucher))
        assert len(redemptions) <= 1
        assert {status for status, _ in lookups} <= {200, 404}
        assert {status for status, _ in sales} <= {201, 409}
        if any(status == 404 for status, _ in lookups):
            seen["not found"] += 1
            assert redemptions == []
            assert all(body["code"] == "redemption_not_found" for _, body in lookups)
            assert all(body["code"] == "idempotency_key_closed" for _, body in sales)
            record = IdempotencyRecord.objects.get(merchant=shop["merchant"], key=key)
            assert record.redemption_id is None
        else:
            seen["found"] += 1
            (redemption,) = redemptions
            assert all(body["id"] == redemption.pk for _, body in lookups + sales)
            assert {status for status, _ in sales} == {201}
            assert redemption.amount == Decimal("20.00")
        assert_voucher_matches_ledger(voucher)
    assert not unbalanced_journals().exists()
    assert sum(seen.values()) == 6
