"""PostgreSQL's one-statement redemption gives the ORM path's answers and writes its rows.

On PostgreSQL ``voucher_redeem`` calls the database function ``bc_voucher_redeem``; SQLite
(and the rest of the suite there) uses the ORM path. Each case below runs the same steps in
two identical worlds, one through each path, and compares, step by step, the answer (or the
refusal with its message) and every row written: voucher, redemption, journal, postings,
ledger accounts and idempotency records.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.models import Account, Journal, Posting
from merchants.errors import RedemptionError
from merchants.models import DeviceKey, IdempotencyRecord, Merchant, Redemption, hash_device_key
from merchants.services import redemption
from merchants.services.devices import device_key_revoke
from merchants.services.tills import Till, parse_amount, parse_code
from tests import factories
from vouchers.codes import generate_code
from vouchers.models import Voucher
from vouchers.services.expiry import voucher_revoke

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the database function is PostgreSQL's"
    ),
]


def world(
    *,
    partial_allowed=True,
    face_value="100.00",
    valid_from=None,
    valid_until=None,
    shop_status=Merchant.Status.ACCREDITED,
    in_circuit=True,
    device=True,
):
    today = timezone.localdate()
    initiative = factories.initiative(
        partial_allowed=partial_allowed,
        face_value=face_value,
        valid_from=valid_from or today - timedelta(days=30),
        valid_until=valid_until or today + timedelta(days=60),
    )
    shop = (
        factories.merchant(initiative=initiative)
        if in_circuit
        else factories.merchant(categories=[factories.category(slug="altro")])
    )
    if shop_status != Merchant.Status.ACCREDITED:
        Merchant.objects.filter(pk=shop.pk).update(status=shop_status)
        shop.refresh_from_db()
    if device:
        key = factories.device_key(shop=shop)
        till = Till(
            merchant=shop,
            device=DeviceKey.objects.get(key_hash=hash_device_key(key)),
        )
    else:
        till = Till(merchant=shop, user=factories.cashier(shop=shop))
    voucher = factories.voucher(initiative=initiative)
    return {"initiative": initiative, "shop": shop, "till": till, "voucher": voucher}


def run(path, *, till, code, amount, key):
    code = parse_code(code)
    amount = None if amount is None else parse_amount(amount)
    return path(
        till=till,
        code=code,
        amount=amount,
        idempotency_key=key,
        request_hash=redemption._request_hash(code, amount),
    )


def step(path, w, *, amount, key, code=None):
    """One redemption; its answer in a form that does not depend on the world's ids."""
    try:
        result = run(path, till=w["till"], code=code or w["voucher"].code, amount=amount, key=key)
    except RedemptionError as error:
        voucher = getattr(error, "voucher", None)
        return ("refused", error.code, str(error.detail), voucher and voucher.pk == w["voucher"].pk)
    redemption = result.redemption
    stored = Redemption.objects.get(pk=redemption.pk)
    answer = (
        result.replayed,
        redemption.amount,
        redemption.balance_after,
        redemption.status,
        redemption.voucher.beneficiary.full_name == w["voucher"].beneficiary.full_name,
        redemption.receipt_number == stored.receipt_number,
        redemption.created_at == stored.created_at,
        (redemption.cashier_id, redemption.device_id, redemption.journal_id)
        == (stored.cashier_id, stored.device_id, stored.journal_id),
        redemption.voucher_id == w["voucher"].pk,
    )
    return ("ok", *answer)


def written(w, amounts=()):
    """Every row the world's redemptions wrote, with ids replaced by what they stand for."""
    voucher = Voucher.objects.get(pk=w["voucher"].pk)
    shop, initiative = w["shop"], w["initiative"]
    owners = {"merchant": (shop.pk, "shop"), "initiative": (initiative.pk, "call")}

    def account(key):
        kind, ident, role = key.split(":")
        pk, name = owners.get(kind, (None, ""))
        return f"{kind}:{name if int(ident) == pk else ident}:{role}"

    redemptions = list(Redemption.objects.filter(voucher=voucher).order_by("pk"))
    journals = Journal.objects.filter(pk__in=[r.journal_id for r in redemptions]).order_by("pk")
    postings = Posting.objects.filter(journal__in=journals).select_related("account")
    # Which of the steps' bodies each stored request fingerprint stands for.
    hashes = {
        redemption._request_hash(voucher.code, None if a is None else Decimal(a)): a
        for a in amounts
    }
    return {
        "voucher": (voucher.balance, voucher.status),
        "redemptions": [
            (
                r.amount,
                r.balance_after,
                r.status,
                r.merchant_id == shop.pk,
                r.cashier_id == getattr(w["till"].user, "pk", None),
                r.device_id == getattr(w["till"].device, "pk", None),
            )
            for r in redemptions
        ],
        "journals": [
            (j.kind, j.memo.replace(shop.name, "SHOP").replace(voucher.code[-4:], "CODE"))
            for j in journals
        ],
        "postings": sorted(
            (
                account(p.account.key),
                p.account.kind,
                p.account.name.removesuffix(
                    f" {shop.pk if p.account.key.startswith('merchant:') else initiative.pk}"
                ),
                p.amount,
                p.voucher_ref == voucher.pk,
                p.merchant_ref == shop.pk if p.merchant_ref is not None else None,
            )
            for p in postings
        ),
        "keys": sorted(
            (
                k.key,
                hashes.get(k.request_hash, k.request_hash),
                k.redemption is not None and k.redemption.journal_id in {j.pk for j in journals},
            )
            for k in IdempotencyRecord.objects.filter(merchant=shop)
        ),
        "accounts": sorted(
            (account(a.key), a.kind)
            for a in Account.objects.filter(key__startswith=f"merchant:{shop.pk}:")
        ),
    }


def revoke(w):
    voucher_revoke(voucher=w["voucher"], reason="Requisiti persi")


def expire_status(w):
    Voucher.objects.filter(pk=w["voucher"].pk).update(status=Voucher.Status.EXPIRED)


def suspend(w):
    Merchant.objects.filter(pk=w["shop"].pk).update(status=Merchant.Status.SUSPENDED)
    w["shop"].refresh_from_db()
    w["till"] = Till(merchant=w["shop"], device=w["till"].device, user=w["till"].user)


def look_up_a(w):
    """The till asks for the sale sent with key "a"."""
    redemption.idempotency_key_resolve(till=w["till"], key="a")


TODAY = timezone.localdate()

CASES = {
    # name: (world options, [(before, amount, key)…])
    "partial, twice": ({}, [(None, "12.50", "a"), (None, "7.50", "b")]),
    "the whole balance, then nothing left": ({}, [(None, "100.00", "a"), (None, "1.00", "b")]),
    "more than the balance": ({}, [(None, "100.01", "a")]),
    "amount omitted on a card": ({}, [(None, None, "a")]),
    "fixed buono, amount omitted": (
        {"partial_allowed": False, "face_value": "25.00"},
        [(None, None, "a"), (None, None, "b")],
    ),
    "fixed buono, part of it": (
        {"partial_allowed": False, "face_value": "25.00"},
        [(None, "10.00", "a"), (None, "25.00", "b")],
    ),
    "retry with the same key": ({}, [(None, "5.00", "a"), (None, "5.00", "a")]),
    "same key, another amount": ({}, [(None, "5.00", "a"), (None, "6.00", "a")]),
    "revoked": ({}, [(revoke, "5.00", "a")]),
    "expired status": ({}, [(expire_status, "5.00", "a")]),
    "validity ended": (
        {"valid_from": TODAY - timedelta(days=60), "valid_until": TODAY - timedelta(days=1)},
        [(None, "5.00", "a")],
    ),
    "not yet valid": (
        {"valid_from": TODAY + timedelta(days=3), "valid_until": TODAY + timedelta(days=60)},
        [(None, "5.00", "a")],
    ),
    "shop outside the circuit": ({"in_circuit": False}, [(None, "5.00", "a")]),
    "suspended shop": ({"shop_status": Merchant.Status.SUSPENDED}, [(None, "5.00", "a")]),
    "shop waiting for accreditation": (
        {"shop_status": Merchant.Status.REQUESTED},
        [(None, "5.00", "a")],
    ),
    "retry after the shop was suspended": ({}, [(None, "5.00", "a"), (suspend, "5.00", "a")]),
    "a cashier, not a device": ({"device": False}, [(None, "5.00", "a"), (None, "5.00", "a")]),
    "key closed by a look-up that found nothing": ({}, [(look_up_a, "5.00", "a")]),
    "a key closed, then a new one": ({}, [(look_up_a, "5.00", "a"), (None, "5.00", "b")]),
    "key looked up after its sale": ({}, [(None, "5.00", "a"), (look_up_a, "5.00", "a")]),
}


@pytest.mark.parametrize("case", CASES)
def test_both_paths_answer_and_write_the_same(case):
    options, steps = CASES[case]
    outcomes = {}
    for name, path in (
        ("orm", redemption._redeem_with_orm),
        ("database", redemption._redeem_in_database),
    ):
        w = world(**options)
        answers = []
        for before, amount, key in steps:
            if before is not None:
                before(w)
            answers.append(step(path, w, amount=amount, key=key))
        outcomes[name] = (answers, written(w, [amount for _, amount, _ in steps]))
    assert outcomes["database"] == outcomes["orm"]
    # The cases are not vacuous: each writes or refuses something.
    assert outcomes["orm"][0]


def test_an_unknown_code_is_refused_by_both_paths():
    w = world()
    missing = generate_code()
    for path in (redemption._redeem_with_orm, redemption._redeem_in_database):
        assert step(path, w, amount="5.00", key="a", code=missing)[:2] == (
            "refused",
            "voucher_not_found",
        )
    assert written(w)["redemptions"] == []


def test_the_database_path_writes_a_balanced_entry_and_a_shop_account_once():
    w = world()
    for n in range(3):
        step(redemption._redeem_in_database, w, amount="1.00", key=f"k{n}")
    rows = written(w)
    assert rows["voucher"] == (Decimal("97.00"), Voucher.Status.ACTIVE)
    assert rows["accounts"] == [("merchant:shop:payable", Account.Kind.MERCHANT_PAYABLE)]
    for journal in Journal.objects.filter(
        pk__in=Redemption.objects.filter(voucher=w["voucher"]).values("journal_id")
    ):
        assert sum(p.amount for p in journal.postings.all()) == 0


def test_a_revoked_device_key_is_refused_by_the_database_before_anything_else():
    w = world()
    device_key_revoke(device_key=w["till"].device)
    assert step(redemption._redeem_in_database, w, amount="5.00", key="a")[:2] == (
        "refused",
        "authentication_failed",
    )
    assert written(w)["redemptions"] == []
    assert written(w)["voucher"] == (Decimal("100.00"), Voucher.Status.ACTIVE)
