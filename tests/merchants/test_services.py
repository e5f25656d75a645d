"""Redemptions, voids, settlements and device keys at the service level."""

import hashlib
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from core.models import Journal
from core.selectors import account_balance, unbalanced_journals
from merchants.authentication import DeviceKeyAuthentication
from merchants.errors import RedemptionError
from merchants.models import DeviceKey, Merchant, MerchantStaff, Redemption, Settlement
from merchants.selectors import merchant_payable
from merchants.services.accreditation import merchant_set_status
from merchants.services.devices import device_key_create, device_key_revoke
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import settlement_create
from merchants.services.tills import Till, till_guard
from merchants.services.voids import redemption_void
from tests import factories
from vouchers.models import Voucher
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.expiry import voucher_expire, voucher_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(circuit) -> Merchant:
    return circuit["merchant"]


@pytest.fixture
def voucher(circuit) -> Voucher:
    return circuit["voucher"]


def redeem(shop: Merchant, voucher: Voucher, amount="10.00", *, key="k", person=None):
    return voucher_redeem(
        till=Till(merchant=shop, user=person), code=voucher.code, amount=amount, idempotency_key=key
    ).redemption


@contextmanager
def refused(code: str):
    """Expect the block to raise a RedemptionError with this code."""
    with pytest.raises(RedemptionError) as info:
        yield info
    assert info.value.code == code


# --- Redeem ----------------------------------------------------------------------------------


def test_redeem_debits_the_voucher_and_records_a_balanced_journal(shop, voucher):
    result = voucher_redeem(
        till=Till(merchant=shop), code=voucher.grouped_code, amount="12.50", idempotency_key="a"
    )
    assert result.replayed is False
    redemption = result.redemption
    assert (redemption.amount, redemption.balance_after) == (Decimal("12.50"), Decimal("87.50"))
    assert redemption.status == Redemption.Status.CONFIRMED
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("87.50")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("87.50")
    assert merchant_payable(merchant_id=shop.pk) == Decimal("12.50")
    assert redemption.journal.kind == Journal.Kind.REDEMPTION
    assert not unbalanced_journals().exists()


def test_redeem_of_the_whole_balance_exhausts_the_voucher(shop, voucher):
    redeem(shop, voucher, "100.00")
    voucher.refresh_from_db()
    assert (voucher.balance, voucher.status) == (Decimal("0.00"), Voucher.Status.EXHAUSTED)


def test_redeem_records_the_cashier_and_the_device(shop, voucher):
    person = factories.cashier(shop=shop)
    device, _ = device_key_create(merchant=shop, name="Cassa 2")
    by_person = redeem(shop, voucher, key="p", person=person)
    by_device = voucher_redeem(
        till=Till(merchant=shop, device=device), code=voucher.code, amount="1", idempotency_key="d"
    ).redemption
    assert (by_person.cashier, by_person.device) == (person, None)
    assert (by_device.cashier, by_device.device) == (None, device)


def test_redeem_retried_with_the_same_key_returns_the_first_redemption_and_debits_once(
    shop, voucher
):
    first = voucher_redeem(
        till=Till(merchant=shop), code=voucher.code, amount="10.00", idempotency_key="same"
    )
    again = voucher_redeem(
        till=Till(merchant=shop), code=voucher.code.lower(), amount="10", idempotency_key="same"
    )
    assert again.replayed is True
    assert again.redemption.pk == first.redemption.pk
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("90.00")
    assert Journal.objects.filter(kind=Journal.Kind.REDEMPTION).count() == 1


def test_redeem_with_a_used_key_and_another_amount_is_refused_with_idempotency_key_reused(
    shop, voucher
):
    redeem(shop, voucher, "10.00", key="same")
    with refused("idempotency_key_reused"):
        redeem(shop, voucher, "10.01", key="same")


def test_the_same_idempotency_key_at_two_shops_makes_two_sales(circuit, shop, voucher):
    other = factories.merchant(initiative=circuit["initiative"])
    redeem(shop, voucher, "10.00", key="same")
    redeem(other, voucher, "10.00", key="same")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("80.00")


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_redeem_without_a_usable_key_is_refused_with_idempotency_key_missing(shop, voucher, key):
    with refused("idempotency_key_missing"):
        redeem(shop, voucher, key=key)


@pytest.mark.parametrize(
    ("amount", "code"),
    [("100.01", "insufficient_balance"), ("0", "invalid_amount"), ("1.001", "invalid_amount")],
)
def test_redeem_of_a_wrong_amount_is_refused_and_changes_nothing(shop, voucher, amount, code):
    journals = Journal.objects.count()
    with refused(code):
        redeem(shop, voucher, amount)
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    assert Journal.objects.count() == journals
    assert not Redemption.objects.exists()


def test_redeem_of_an_unknown_code_is_refused_with_voucher_not_found(shop):
    with refused("voucher_not_found"):
        voucher_redeem(till=Till(merchant=shop), code="Z" * 20, amount="1.00", idempotency_key="k")


def test_redeem_of_a_voucher_past_its_validity_that_was_not_yet_expired_is_refused(shop, voucher):
    Voucher.objects.filter(pk=voucher.pk).update(
        valid_until=timezone.localdate() - timedelta(days=1)
    )
    with refused("voucher_expired"):
        redeem(shop, voucher)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Merchant.Status.SUSPENDED, "merchant_suspended"),
        (Merchant.Status.REQUESTED, "merchant_not_accredited"),
        (Merchant.Status.REJECTED, "merchant_not_accredited"),
    ],
)
def test_a_shop_that_may_not_take_vouchers_is_refused(shop, voucher, status, code):
    Merchant.objects.filter(pk=shop.pk).update(status=status)
    shop.refresh_from_db()
    with refused(code):
        till_guard(till=Till(merchant=shop))
    with refused(code):
        redeem(shop, voucher)


def test_merchant_set_status_keeps_the_reason(shop):
    merchant_set_status(merchant=shop, status=Merchant.Status.SUSPENDED, reason="Verifica in corso")
    shop.refresh_from_db()
    assert (shop.status, shop.status_reason) == (Merchant.Status.SUSPENDED, "Verifica in corso")


# --- Void ------------------------------------------------------------------------------------


def test_void_refunds_the_voucher_and_reverses_the_payable(shop, voucher):
    redemption = redeem(shop, voucher, "100.00")
    voided = redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)
    assert voided.status == Redemption.Status.VOIDED
    assert voided.voided_at is not None
    voucher.refresh_from_db()
    assert (voucher.balance, voucher.status) == (Decimal("100.00"), Voucher.Status.ACTIVE)
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("100.00")
    assert merchant_payable(merchant_id=shop.pk) == Decimal("0.00")
    assert Journal.objects.filter(kind=Journal.Kind.REDEMPTION_VOID).count() == 1
    assert not unbalanced_journals().exists()


def test_void_twice_is_refused_with_already_voided(shop, voucher):
    redemption = redeem(shop, voucher)
    redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)
    with refused("already_voided"):
        redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")


def test_void_of_another_shops_redemption_is_refused_with_redemption_not_found(circuit, voucher):
    redemption = redeem(circuit["merchant"], voucher)
    other = factories.merchant(initiative=circuit["initiative"])
    with refused("redemption_not_found"):
        redemption_void(till=Till(merchant=other), redemption_id=redemption.pk)


def test_void_of_yesterdays_redemption_is_refused_with_void_window_closed(shop, voucher):
    redemption = redeem(shop, voucher)
    Redemption.objects.filter(pk=redemption.pk).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    with refused("void_window_closed"):
        redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)


def test_void_of_a_settled_redemption_is_refused_with_already_settled(shop, voucher):
    redemption = redeem(shop, voucher)
    settlement_create(merchant=shop)
    with refused("already_settled"):
        redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)


def test_void_after_the_voucher_was_revoked_is_refused_with_voucher_revoked(shop, voucher):
    redemption = redeem(shop, voucher)
    voucher_revoke(voucher=voucher, reason="Errore")
    with refused("voucher_revoked"):
        redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)


def test_void_after_the_voucher_expired_is_refused_with_voucher_expired(shop, voucher):
    redemption = redeem(shop, voucher)
    voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))
    with refused("voucher_expired"):
        redemption_void(till=Till(merchant=shop), redemption_id=redemption.pk)


def test_a_cashier_voids_only_his_own_redemptions_while_the_owner_and_devices_void_any(
    shop, voucher
):
    first = factories.cashier(shop=shop)
    second = factories.cashier(shop=shop)
    owner = factories.cashier(shop=shop, role=MerchantStaff.Role.OWNER)
    device, _ = device_key_create(merchant=shop, name="Cassa")
    a = redeem(shop, voucher, key="a", person=first)
    b = redeem(shop, voucher, key="b", person=first)
    c = redeem(shop, voucher, key="c", person=first)

    with refused("not_your_redemption"):
        redemption_void(till=Till(merchant=shop, user=second), redemption_id=a.pk)
    redemption_void(till=Till(merchant=shop, user=first), redemption_id=a.pk)
    voided = redemption_void(
        till=Till(merchant=shop, user=owner, role=MerchantStaff.Role.OWNER), redemption_id=b.pk
    )
    assert voided.voided_by == owner
    redemption_void(till=Till(merchant=shop, device=device), redemption_id=c.pk)
    assert set(Redemption.objects.values_list("status", flat=True)) == {Redemption.Status.VOIDED}


# --- Settlement ------------------------------------------------------------------------------


def test_settlement_pays_the_exact_sum_of_confirmed_unsettled_redemptions(circuit, shop, voucher):
    kept = [redeem(shop, voucher, "10.00", key="1"), redeem(shop, voucher, "2.35", key="2")]
    voided = redeem(shop, voucher, "5.00", key="3")
    redemption_void(till=Till(merchant=shop), redemption_id=voided.pk)
    other = factories.merchant(initiative=circuit["initiative"])
    redeem(other, voucher, "7.00", key="4")

    settlement = settlement_create(merchant=shop)

    assert (settlement.total, settlement.redemptions_count) == (Decimal("12.35"), 2)
    assert set(settlement.redemptions.values_list("pk", flat=True)) == {r.pk for r in kept}
    assert Redemption.objects.get(pk=voided.pk).settlement is None
    assert merchant_payable(merchant_id=shop.pk) == Decimal("0.00")
    assert account_balance(key=shop.settled_account_key) == Decimal("12.35")
    assert merchant_payable(merchant_id=other.pk) == Decimal("7.00")
    assert settlement.journal.kind == Journal.Kind.SETTLEMENT
    assert not unbalanced_journals().exists()


def test_settlement_with_nothing_to_pay_is_refused_with_nothing_to_settle(shop, voucher):
    with refused("nothing_to_settle"):
        settlement_create(merchant=shop)
    redeem(shop, voucher)
    settlement_create(merchant=shop)
    with refused("nothing_to_settle"):
        settlement_create(merchant=shop)
    assert Settlement.objects.count() == 1


def test_a_later_settlement_pays_only_what_came_after_the_previous_one(shop, voucher):
    redeem(shop, voucher, "10.00", key="1")
    first = settlement_create(merchant=shop)
    redeem(shop, voucher, "4.00", key="2")
    second = settlement_create(merchant=shop)
    assert (first.total, second.total) == (Decimal("10.00"), Decimal("4.00"))
    assert account_balance(key=shop.settled_account_key) == Decimal("14.00")


# --- Device keys -----------------------------------------------------------------------------


def test_device_key_is_stored_only_as_its_hash(shop):
    device, raw_key = device_key_create(merchant=shop, name="Cassa 1")
    device.refresh_from_db()
    assert raw_key.startswith("bc_") and len(raw_key) >= 40
    assert device.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert device.prefix == raw_key[3:11]
    stored = [
        str(value) for value in DeviceKey.objects.filter(pk=device.pk).values().get().values()
    ]
    assert raw_key not in stored
    assert not any(raw_key in value for value in stored)


def test_each_device_key_is_different(shop):
    keys = {device_key_create(merchant=shop, name=f"Cassa {n}")[1] for n in range(5)}
    assert len(keys) == 5


def test_device_key_revoke_sets_the_time_once(shop):
    device, _ = device_key_create(merchant=shop, name="Cassa 1")
    assert device.is_active
    device_key_revoke(device_key=device)
    device.refresh_from_db()
    revoked_at = device.revoked_at
    assert revoked_at is not None and not device.is_active
    device_key_revoke(device_key=device)
    device.refresh_from_db()
    assert device.revoked_at == revoked_at


def test_a_revoked_device_key_no_longer_authenticates(rf, shop):
    device, raw_key = device_key_create(merchant=shop, name="Cassa 1")
    request = rf.post("/", HTTP_AUTHORIZATION=f"Token {raw_key}")
    principal, auth = DeviceKeyAuthentication().authenticate(request)
    assert principal.merchant == shop and auth == device
    device_key_revoke(device_key=device)
    with pytest.raises(AuthenticationFailed):
        DeviceKeyAuthentication().authenticate(request)


def test_a_device_key_is_read_with_its_own_fields_and_its_shop(shop):
    from merchants.authentication import device_authenticate

    raw = factories.device_key(shop=shop)
    device = device_authenticate(raw)
    stored = DeviceKey.objects.select_related("merchant").get(pk=device.pk)
    for field in ("id", "name", "prefix", "merchant_id", "revoked_at"):
        assert getattr(device, field) == getattr(stored, field), field
    assert device.last_used_at is not None
    assert device.last_used_at == stored.last_used_at
    for field in ("id", "name", "status", "vat_number", "iban"):
        assert getattr(device.merchant, field) == getattr(stored.merchant, field), field
    assert str(device) == str(stored)
    assert device_authenticate(raw + "x") is None
    device_key_revoke(device_key=stored)
    assert device_authenticate(raw) is None
