"""The redemption API as a till sees it: every error code, the contract's bodies, the QR views."""

import io
import struct
import uuid
import zlib
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import segno
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from django.utils.crypto import get_random_string
from PIL import Image
from rest_framework.test import APIClient

from core.models import Journal
from core.selectors import unbalanced_journals
from merchants.models import Merchant, MerchantStaff, Redemption, RefusedAttempt
from merchants.services.devices import device_key_revoke
from merchants.services.settlements import settlement_create
from tests import factories, zbar
from tests.zbar import decode
from vouchers.models import Voucher
from vouchers.qr import voucher_qr_png
from vouchers.services.expiry import voucher_revoke
from vouchers.services.issuing import voucher_issue_bulk

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/vouchers/check/"
REDEMPTIONS = "/api/v1/redemptions/"
SCAN = "/api/v1/scan/"


def void_url(redemption_id: int) -> str:
    return f"/api/v1/redemptions/{redemption_id}/void/"


def device_client(shop: Merchant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.device_key(shop=shop)}")
    return client


def session_client(person) -> APIClient:
    client = APIClient()
    client.force_login(person)
    return client


def redeem(client: APIClient, code: str, amount="10.00", *, key: str | None = None, **extra):
    body = {"code": code}
    if amount is not None:
        body["amount"] = amount
    return client.post(
        REDEMPTIONS,
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key if key is not None else uuid.uuid4().hex,
        **extra,
    )


def check(client: APIClient, code: str, **extra):
    return client.post(CHECK, {"code": code}, format="json", **extra)


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"].strip()
    return body


def unknown_code() -> str:
    """A well-formed code that no voucher has."""
    return "ZZZZZ" * 4


def snapshot(voucher: Voucher) -> tuple:
    voucher.refresh_from_db()
    return voucher.balance, voucher.status, Redemption.objects.count(), Journal.objects.count()


def today():
    return timezone.localdate()


# --- Malformed input -------------------------------------------------------------------------


def test_redeem_refuses_a_code_of_the_wrong_shape_with_invalid_code_format(circuit, till_client):
    assert_error(redeem(till_client, "ABC-123"), 400, "invalid_code_format")


def test_check_refuses_a_code_with_letters_outside_the_alphabet_with_invalid_code_format(
    circuit, till_client
):
    assert_error(check(till_client, "UUUUU" * 4), 400, "invalid_code_format")


@pytest.mark.parametrize(
    "amount",
    ["abc", "-5", "0", "0.00", "1.234", "NaN", "Infinity", "1e400", "1e30", [], ["1"], True, {}],
)
def test_redeem_refuses_an_amount_that_is_not_a_positive_euro_sum_with_invalid_amount(
    circuit, till_client, amount
):
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    assert_error(redeem(till_client, voucher.code, amount), 400, "invalid_amount")
    assert snapshot(voucher) == before


def test_redeem_refuses_an_amount_that_overflows_to_infinity_in_json_without_a_server_error(
    circuit, till_client
):
    body = '{"code": "' + circuit["voucher"].code + '", "amount": 1e400}'
    response = till_client.post(
        REDEMPTIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 400, "invalid_amount")


def test_redeem_refuses_an_amount_larger_than_any_voucher_with_insufficient_balance(
    circuit, till_client
):
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    response = redeem(till_client, voucher.code, "99999999999.00")
    assert_error(response, 409, "insufficient_balance")
    assert snapshot(voucher) == before
    attempt = RefusedAttempt.objects.get()
    assert (attempt.reason, attempt.amount) == ("insufficient_balance", None)


# Amounts outside the schema's pattern that Python's Decimal would read as a number.
AMOUNTS_OUTSIDE_THE_PATTERN = [
    "1e0",
    "1E1",
    "1_0",
    "\u0661\u0660",  # Arabic-Indic "10"
    "\uff11\uff10",  # full-width "10"
    " 1,5 ",
    "1,5",
    " 10.00",
    "10.00 ",
    "10.00\n",
    "+10",
    "10.",
    ".5",
    "0x10",
    "",
    12,
    12.5,
    1e0,
]


@pytest.mark.parametrize("lane", [True, False], ids=["fast lane", "view"])
@pytest.mark.parametrize("amount", AMOUNTS_OUTSIDE_THE_PATTERN)
def test_redeem_refuses_an_amount_outside_the_schemas_pattern_and_debits_nothing(
    circuit, till_client, settings, amount, lane
):
    settings.TILL_FAST_LANE = lane
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    body = assert_error(redeem(till_client, voucher.code, amount), 400, "invalid_amount")
    assert "al massimo due decimali (per esempio 12.50)" in body["detail"]
    assert snapshot(voucher) == before
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("lane", [True, False], ids=["fast lane", "view"])
@pytest.mark.parametrize("amount", ["10", "10.5", "10.50", "0010.50"])
def test_redeem_takes_every_amount_the_schemas_pattern_allows(
    circuit, till_client, settings, amount, lane
):
    settings.TILL_FAST_LANE = lane
    response = redeem(till_client, circuit["voucher"].code, amount)
    assert response.status_code == 201, response.content
    assert Decimal(response.json()["amount"]) == Decimal(amount)


def test_the_schemas_amount_pattern_is_the_one_the_api_applies(client):
    from merchants.services.tills import AMOUNT_PATTERN

    schema = client.get("/api/schema/?format=json").json()
    field = schema["components"]["schemas"]["RedemptionInputRequest"]["properties"]["amount"]
    assert field["pattern"] == AMOUNT_PATTERN == r"^[0-9]+(\.[0-9]{1,2})?$"


def test_redeem_refuses_malformed_json_with_invalid_request(circuit, till_client):
    response = till_client.post(
        REDEMPTIONS,
        '{"code": "ABC',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert_error(response, 400, "invalid_request")


def test_redeem_refuses_a_json_nan_literal_with_invalid_request(circuit, till_client):
    body = '{"code": "' + circuit["voucher"].code + '", "amount": NaN}'
    response = till_client.post(
        REDEMPTIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 400, "invalid_request")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("lane", [True, False], ids=["fast lane", "view"])
@pytest.mark.parametrize(
    "body",
    [
        nested(2000),
        '{"code": ' + nested(2000) + ', "amount": "1.00"}',
        '{"code": "X", "amount": ' + '{"a": ' * 1500 + "1" + "}" * 1500 + "}",
    ],
    ids=["array", "code", "amount"],
)
@pytest.mark.parametrize("path", [CHECK, REDEMPTIONS])
def test_json_nested_thousands_of_levels_deep_is_refused_with_invalid_request(
    circuit, till_client, settings, path, body, lane
):
    settings.TILL_FAST_LANE = lane
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    response = till_client.post(
        path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    detail = assert_error(response, 400, "invalid_request")["detail"]
    assert "annidati" in detail
    assert snapshot(voucher) == before


def test_json_nested_to_the_limit_is_parsed_and_judged_on_its_fields(circuit, till_client):
    from core.parsers import MAX_JSON_DEPTH

    body = '{"code": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    response = till_client.post(CHECK, body, content_type="application/json")
    body = assert_error(response, 400, "invalid_request")
    assert body["detail"].startswith("code:")


def test_brackets_inside_strings_do_not_count_as_nesting(circuit, till_client):
    code = circuit["voucher"].code
    response = till_client.post(
        CHECK, {"code": code, "note": "[{" * 100 + '\\"' + "]}" * 100}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", [CHECK, REDEMPTIONS])
def test_a_json_body_over_the_limit_is_refused_with_request_too_large(circuit, till_client, path):
    from core.parsers import MAX_JSON_BYTES

    body = '{"code": "' + "A" * MAX_JSON_BYTES + '"}'
    response = till_client.post(
        path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )
    body = assert_error(response, 413, "request_too_large")
    assert "64" in body["detail"]


def test_redeem_refuses_a_body_without_a_code_with_invalid_request(circuit, till_client):
    response = till_client.post(
        REDEMPTIONS, {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_error(response, 400, "invalid_request")


# --- Idempotency -----------------------------------------------------------------------------


def test_redeem_without_an_idempotency_key_is_refused_with_idempotency_key_missing(
    circuit, till_client
):
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    response = till_client.post(
        REDEMPTIONS, {"code": voucher.code, "amount": "10.00"}, format="json"
    )
    assert_error(response, 400, "idempotency_key_missing")
    assert snapshot(voucher) == before


@pytest.mark.parametrize("key", ["   ", "k" * 256])
def test_redeem_with_a_blank_or_overlong_idempotency_key_is_refused(circuit, till_client, key):
    assert_error(
        redeem(till_client, circuit["voucher"].code, key=key), 400, "idempotency_key_missing"
    )


def test_redeem_accepts_an_idempotency_key_of_255_characters(circuit, till_client):
    response = redeem(till_client, circuit["voucher"].code, key="k" * 255)
    assert response.status_code == 201, response.content


def test_redeem_reusing_an_idempotency_key_for_another_body_is_refused_and_debits_once(
    circuit, till_client
):
    voucher = circuit["voucher"]
    assert redeem(till_client, voucher.code, "10.00", key="sale-1").status_code == 201
    response = redeem(till_client, voucher.code, "20.00", key="sale-1")
    assert_error(response, 409, "idempotency_key_reused")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("90.00")
    assert Redemption.objects.filter(voucher=voucher).count() == 1


def test_redeem_retry_with_the_same_key_is_marked_as_replayed(circuit, till_client):
    code = circuit["voucher"].code
    first = redeem(till_client, code, "10.00", key="sale-2")
    again = redeem(till_client, code, "10.00", key="sale-2")
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


# --- The voucher's state ---------------------------------------------------------------------


def test_redeem_refuses_an_unknown_code_with_404_voucher_not_found(circuit, till_client):
    assert_error(redeem(till_client, unknown_code()), 404, "voucher_not_found")


def test_check_refuses_an_unknown_code_with_404_voucher_not_found(circuit, till_client):
    assert_error(check(till_client, unknown_code()), 404, "voucher_not_found")


def test_redeem_refuses_a_voucher_past_its_validity_with_voucher_expired(db):
    initiative = factories.initiative(
        valid_from=today() - timedelta(days=30), valid_until=today() - timedelta(days=1)
    )
    voucher = factories.voucher(initiative=initiative)
    client = device_client(factories.merchant(initiative=initiative))
    assert_error(redeem(client, voucher.code), 409, "voucher_expired")


def test_redeem_refuses_a_voucher_before_its_validity_with_voucher_not_yet_valid(db):
    start = today() + timedelta(days=3)
    initiative = factories.initiative(valid_from=start, valid_until=start + timedelta(days=30))
    voucher = factories.voucher(initiative=initiative)
    client = device_client(factories.merchant(initiative=initiative))
    body = assert_error(redeem(client, voucher.code), 409, "voucher_not_yet_valid")
    assert start.strftime("%d/%m/%Y") in body["detail"]


def test_redeem_refuses_a_revoked_voucher_with_voucher_revoked(circuit, till_client):
    voucher_revoke(voucher=circuit["voucher"], reason="Perso il diritto")
    assert_error(redeem(till_client, circuit["voucher"].code), 409, "voucher_revoked")


def test_redeem_refuses_a_voucher_spent_in_full_with_voucher_exhausted(circuit, till_client):
    code = circuit["voucher"].code
    assert redeem(till_client, code, "100.00").status_code == 201
    assert_error(redeem(till_client, code, "0.01"), 409, "voucher_exhausted")


def test_redeem_refuses_more_than_the_balance_with_insufficient_balance(circuit, till_client):
    voucher = circuit["voucher"]
    before = snapshot(voucher)
    assert_error(redeem(till_client, voucher.code, "100.01"), 409, "insufficient_balance")
    assert snapshot(voucher) == before


def test_redeem_refuses_part_of_a_fixed_denomination_buono_with_partial_not_allowed(db):
    initiative = factories.initiative(face_value="25.00", partial_allowed=False)
    voucher = factories.voucher(initiative=initiative)
    client = device_client(factories.merchant(initiative=initiative))
    assert_error(redeem(client, voucher.code, "10.00"), 409, "partial_not_allowed")


@pytest.mark.parametrize("amount", [None, "25.00"])
def test_redeem_spends_a_fixed_denomination_buono_whole_without_or_with_its_amount(db, amount):
    initiative = factories.initiative(face_value="25.00", partial_allowed=False)
    voucher = factories.voucher(initiative=initiative)
    client = device_client(factories.merchant(initiative=initiative))
    response = redeem(client, voucher.code, amount)
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "25.00"
    assert response.json()["balance_after"] == "0.00"
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXHAUSTED


def test_redeem_of_a_card_voucher_without_an_amount_is_refused_with_invalid_amount(
    circuit, till_client
):
    assert_error(redeem(till_client, circuit["voucher"].code, None), 400, "invalid_amount")


# --- The shop --------------------------------------------------------------------------------


def test_redeem_at_a_shop_selling_no_allowed_category_is_refused_with_merchant_not_in_circuit(
    circuit,
):
    shop = factories.merchant(
        categories=[factories.category()],
        municipalities=list(circuit["initiative"].municipalities.all()),
    )
    response = redeem(device_client(shop), circuit["voucher"].code)
    assert_error(response, 409, "merchant_not_in_circuit")


def test_redeem_at_a_shop_outside_the_municipalities_is_refused_with_merchant_not_in_circuit(
    circuit,
):
    shop = factories.merchant(
        categories=list(circuit["initiative"].allowed_categories.all()),
        municipalities=[factories.municipality()],
    )
    response = redeem(device_client(shop), circuit["voucher"].code)
    assert_error(response, 409, "merchant_not_in_circuit")


def test_redeem_at_a_suspended_shop_is_refused_with_403_merchant_suspended(circuit, till_client):
    Merchant.objects.filter(pk=circuit["merchant"].pk).update(status=Merchant.Status.SUSPENDED)
    assert_error(redeem(till_client, circuit["voucher"].code), 403, "merchant_suspended")


def test_check_at_a_suspended_shop_is_refused_with_403_merchant_suspended(circuit, till_client):
    Merchant.objects.filter(pk=circuit["merchant"].pk).update(status=Merchant.Status.SUSPENDED)
    assert_error(check(till_client, circuit["voucher"].code), 403, "merchant_suspended")


@pytest.mark.parametrize("status", [Merchant.Status.REQUESTED, Merchant.Status.REJECTED])
def test_redeem_at_a_shop_not_accredited_is_refused_with_403_merchant_not_accredited(
    circuit, till_client, status
):
    Merchant.objects.filter(pk=circuit["merchant"].pk).update(status=status)
    assert_error(redeem(till_client, circuit["voucher"].code), 403, "merchant_not_accredited")


# --- Voids -----------------------------------------------------------------------------------


def test_void_refunds_the_voucher_the_same_day(circuit, till_client):
    voucher = circuit["voucher"]
    redemption_id = redeem(till_client, voucher.code, "30.00").json()["id"]
    response = till_client.post(void_url(redemption_id))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "voided"
    assert response.json()["voided_at"]
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")


def test_void_of_a_redemption_from_yesterday_is_refused_with_void_window_closed(
    circuit, till_client
):
    redemption_id = redeem(till_client, circuit["voucher"].code).json()["id"]
    Redemption.objects.filter(pk=redemption_id).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    assert_error(till_client.post(void_url(redemption_id)), 409, "void_window_closed")


def test_void_twice_is_refused_with_already_voided(circuit, till_client):
    redemption_id = redeem(till_client, circuit["voucher"].code).json()["id"]
    assert till_client.post(void_url(redemption_id)).status_code == 200
    assert_error(till_client.post(void_url(redemption_id)), 409, "already_voided")
    circuit["voucher"].refresh_from_db()
    assert circuit["voucher"].balance == Decimal("100.00")


def test_void_of_a_settled_redemption_is_refused_with_already_settled(circuit, till_client):
    redemption_id = redeem(till_client, circuit["voucher"].code).json()["id"]
    settlement_create(merchant=circuit["merchant"])
    assert_error(till_client.post(void_url(redemption_id)), 409, "already_settled")


def test_void_of_another_shops_redemption_is_refused_with_404(circuit, till_client):
    redemption_id = redeem(till_client, circuit["voucher"].code).json()["id"]
    other = device_client(factories.merchant(initiative=circuit["initiative"]))
    assert_error(other.post(void_url(redemption_id)), 404, "redemption_not_found")
    assert Redemption.objects.get(pk=redemption_id).status == Redemption.Status.CONFIRMED


def test_void_of_an_id_that_exists_nowhere_is_refused_with_404(circuit, till_client):
    assert_error(till_client.post(void_url(987654)), 404, "redemption_not_found")
    # Past the database's integers too.
    assert_error(till_client.post(void_url(10**30)), 404, "redemption_not_found")


def test_a_cashier_cannot_void_another_cashiers_redemption_but_the_owner_can(circuit):
    shop = circuit["merchant"]
    first = factories.cashier(shop=shop)
    second = factories.cashier(shop=shop)
    owner = factories.cashier(shop=shop, role=MerchantStaff.Role.OWNER)
    response = redeem(session_client(first), circuit["voucher"].code, "40.00")
    assert response.status_code == 201, response.content
    redemption_id = response.json()["id"]

    assert_error(session_client(second).post(void_url(redemption_id)), 403, "not_your_redemption")
    assert Redemption.objects.get(pk=redemption_id).status == Redemption.Status.CONFIRMED

    response = session_client(owner).post(void_url(redemption_id))
    assert response.status_code == 200, response.content
    redemption = Redemption.objects.get(pk=redemption_id)
    assert redemption.status == Redemption.Status.VOIDED
    assert redemption.voided_by == owner


def test_a_cashier_can_void_his_own_redemption(circuit):
    person = factories.cashier(shop=circuit["merchant"])
    client = session_client(person)
    redemption_id = redeem(client, circuit["voucher"].code).json()["id"]
    assert client.post(void_url(redemption_id)).status_code == 200


# --- Throttling and authentication -----------------------------------------------------------


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=3)
def test_a_till_sending_too_many_unknown_codes_is_refused_with_429_rate_limited(circuit):
    shop = circuit["merchant"]
    client = device_client(shop)
    for _ in range(3):
        assert_error(redeem(client, unknown_code()), 404, "voucher_not_found")
    assert_error(redeem(client, circuit["voucher"].code), 429, "rate_limited")
    assert_error(check(client, circuit["voucher"].code), 429, "rate_limited")
    # Another till of the same shop is not punished for it.
    assert redeem(device_client(shop), circuit["voucher"].code).status_code == 201


@override_settings(VOUCHER_UNKNOWN_CODE_LIMIT=2)
def test_unknown_codes_sent_to_the_check_endpoint_count_towards_the_limit(circuit):
    client = device_client(circuit["merchant"])
    for _ in range(2):
        assert_error(check(client, unknown_code()), 404, "voucher_not_found")
    assert_error(check(client, circuit["voucher"].code), 429, "rate_limited")


def test_a_request_without_credentials_is_refused_with_401_not_authenticated(circuit):
    response = redeem(APIClient(), circuit["voucher"].code)
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token bc_wrong-key", "Token", "Token a b"])
def test_a_wrong_or_malformed_device_key_is_refused_with_401_not_authenticated(circuit, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(redeem(client, circuit["voucher"].code), 401, "not_authenticated")


def test_a_revoked_device_key_is_refused_with_401_not_authenticated(circuit, till_client):
    assert redeem(till_client, circuit["voucher"].code).status_code == 201
    device_key_revoke(device_key=circuit["merchant"].device_keys.get())
    assert_error(redeem(till_client, circuit["voucher"].code), 401, "not_authenticated")


def test_a_logged_in_user_who_works_for_no_shop_is_refused_with_403_not_a_merchant(circuit):
    client = session_client(factories.user())
    assert_error(redeem(client, circuit["voucher"].code), 403, "not_a_merchant")


def test_a_session_post_needs_the_csrf_token(circuit):
    voucher = circuit["voucher"]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(factories.cashier(shop=circuit["merchant"]))
    before = snapshot(voucher)

    refused = redeem(client, voucher.code, "15.00", key="sale")
    assert_error(refused, 403, "permission_denied")
    assert snapshot(voucher) == before

    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    accepted = redeem(client, voucher.code, "15.00", key="sale", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content
    redemption = Redemption.objects.get(pk=accepted.json()["id"])
    assert redemption.cashier is not None
    assert redemption.device is None


# --- Translations ----------------------------------------------------------------------------


def test_error_detail_is_in_the_requested_language_italian_or_english(circuit, till_client):
    """Checks translation: needs the English catalogue in locale/en."""
    italian = redeem(till_client, "ABC", HTTP_ACCEPT_LANGUAGE="it").json()
    english = redeem(till_client, "ABC", HTTP_ACCEPT_LANGUAGE="en").json()
    assert italian["code"] == english["code"] == "invalid_code_format"
    assert italian["detail"] and english["detail"]
    assert italian["detail"] != english["detail"]


# --- The check endpoint's body ---------------------------------------------------------------


def test_check_returns_the_contract_fields_of_a_redeemable_voucher(circuit, till_client):
    voucher = circuit["voucher"]
    initiative = circuit["initiative"]
    response = check(till_client, voucher.code)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "holder_name": voucher.beneficiary.full_name,
        "balance": "100.00",
        "face_value": "100.00",
        "currency": "EUR",
        "valid_from": voucher.valid_from.isoformat(),
        "valid_until": voucher.valid_until.isoformat(),
        "initiative": {"id": initiative.pk, "title": initiative.title},
        "partial_allowed": True,
        "redeemable": True,
        "reason": None,
        "reason_detail": None,
    }


def _expired(circuit):
    Voucher.objects.filter(pk=circuit["voucher"].pk).update(valid_until=today() - timedelta(days=1))


def _not_yet_valid(circuit):
    Voucher.objects.filter(pk=circuit["voucher"].pk).update(valid_from=today() + timedelta(days=1))


def _revoked(circuit):
    voucher_revoke(voucher=circuit["voucher"], reason="Errore di emissione")


def _exhausted(circuit):
    Voucher.objects.filter(pk=circuit["voucher"].pk).update(
        balance=Decimal("0.00"), status=Voucher.Status.EXHAUSTED
    )


def _outside_circuit(circuit):
    circuit["merchant"].categories.set([factories.category()])


@pytest.mark.parametrize(
    ("make_unusable", "reason"),
    [
        (_expired, "voucher_expired"),
        (_not_yet_valid, "voucher_not_yet_valid"),
        (_revoked, "voucher_revoked"),
        (_exhausted, "voucher_exhausted"),
        (_outside_circuit, "merchant_not_in_circuit"),
    ],
)
def test_check_of_a_voucher_the_shop_cannot_take_says_why_and_logs_it(
    circuit, till_client, make_unusable, reason
):
    make_unusable(circuit)
    response = check(till_client, circuit["voucher"].code)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["redeemable"] is False
    assert body["reason"] == reason
    assert body["reason_detail"]
    attempt = RefusedAttempt.objects.get()
    assert attempt.action == RefusedAttempt.Action.CHECK
    assert attempt.reason == reason
    assert attempt.voucher_id == circuit["voucher"].pk


# --- Codes as people type them ---------------------------------------------------------------

TYPABLE_CODE = "10ABCDEFGHJKMNPQRS01"


@pytest.fixture
def typable_voucher(circuit) -> Voucher:
    holder = factories.beneficiary(municipality=circuit["initiative"].municipalities.first())
    return voucher_issue_bulk(
        initiative=circuit["initiative"], beneficiaries=[holder], code_factory=lambda: TYPABLE_CODE
    )[0]


@pytest.mark.parametrize(
    "typed",
    [
        "10abcdefghjkmnpqrs01",
        "10abc-defgh-jkmnp-qrs01",
        " 10ABC DEFGH JKMNP QRS01 ",
        "io abc-defgh jkmnp-qrsol",
        "IOABCDEFGHJKMNPQRS0L",
    ],
)
def test_a_code_typed_in_lowercase_with_separators_or_o_i_l_typos_is_accepted(
    typable_voucher, till_client, typed
):
    checked = check(till_client, typed)
    assert checked.status_code == 200, checked.content
    assert checked.json()["holder_name"] == typable_voucher.beneficiary.full_name
    redeemed = redeem(till_client, typed, "1.00")
    assert redeemed.status_code == 201, redeemed.content
    assert Redemption.objects.get(pk=redeemed.json()["id"]).voucher == typable_voucher


# --- Refused attempts are logged and change nothing ------------------------------------------


def _suspend(circuit):
    Merchant.objects.filter(pk=circuit["merchant"].pk).update(status=Merchant.Status.SUSPENDED)


@pytest.mark.parametrize(
    ("prepare", "amount", "reason", "knows_voucher"),
    [
        (_expired, "10.00", "voucher_expired", True),
        (_revoked, "10.00", "voucher_revoked", True),
        (_outside_circuit, "10.00", "merchant_not_in_circuit", True),
        (None, "100.01", "insufficient_balance", False),
        (None, "abc", "invalid_amount", False),
        (_suspend, "10.00", "merchant_suspended", False),
    ],
)
def test_a_refused_redemption_is_logged_with_its_reason_and_changes_nothing(
    circuit, till_client, prepare, amount, reason, knows_voucher
):
    voucher = circuit["voucher"]
    if prepare:
        prepare(circuit)
    before = snapshot(voucher)
    response = redeem(till_client, voucher.grouped_code, amount)
    assert response.json()["code"] == reason
    assert snapshot(voucher) == before
    attempt = RefusedAttempt.objects.get()
    assert attempt.action == RefusedAttempt.Action.REDEEM
    assert attempt.reason == reason
    assert attempt.merchant == circuit["merchant"]
    assert attempt.device == circuit["merchant"].device_keys.get()
    assert attempt.code_hint == voucher.code[-4:]
    assert attempt.ip_address == "127.0.0.1"
    if knows_voucher:
        assert attempt.voucher == voucher


def test_a_refused_unknown_code_is_logged_without_a_voucher(circuit, till_client):
    journals = Journal.objects.count()
    redeem(till_client, unknown_code(), "5.00")
    attempt = RefusedAttempt.objects.get()
    assert (attempt.reason, attempt.voucher, attempt.amount) == (
        "voucher_not_found",
        None,
        Decimal("5.00"),
    )
    assert Journal.objects.count() == journals


def test_a_refused_void_is_logged_with_its_reason(circuit, till_client):
    redemption_id = redeem(till_client, circuit["voucher"].code).json()["id"]
    till_client.post(void_url(redemption_id))
    till_client.post(void_url(redemption_id))
    attempt = RefusedAttempt.objects.get()
    assert (attempt.action, attempt.reason) == (RefusedAttempt.Action.VOID, "already_voided")


# --- The day's list --------------------------------------------------------------------------


def _redemption_at(client, voucher, amount, *, day=None) -> int:
    redemption_id = redeem(client, voucher.code, amount).json()["id"]
    if day is not None:
        noon = timezone.make_aware(datetime.combine(day, time(12, 0)))
        Redemption.objects.filter(pk=redemption_id).update(created_at=noon)
    return redemption_id


def test_redemption_list_shows_the_days_redemptions_with_the_total_of_confirmed_ones(
    circuit, till_client
):
    voucher = circuit["voucher"]
    _redemption_at(till_client, voucher, "10.00")
    _redemption_at(till_client, voucher, "20.00")
    voided = _redemption_at(till_client, voucher, "30.00")
    assert till_client.post(void_url(voided)).status_code == 200
    yesterday = today() - timedelta(days=1)
    _redemption_at(till_client, voucher, "5.00", day=yesterday)
    # Another shop's sale the same day is not in this shop's list.
    other_shop = factories.merchant(initiative=circuit["initiative"])
    _redemption_at(device_client(other_shop), voucher, "7.00")

    response = till_client.get(REDEMPTIONS, {"date": today().isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date"] == today().isoformat()
    assert body["count"] == 3
    assert body["total"] == "30.00"
    assert [row["status"] for row in body["results"]] == ["voided", "confirmed", "confirmed"]
    assert body["next"] is None and body["previous"] is None

    body = till_client.get(REDEMPTIONS, {"date": yesterday.isoformat()}).json()
    assert (body["count"], body["total"]) == (1, "5.00")

    default = till_client.get(REDEMPTIONS).json()
    assert (default["date"], default["count"]) == (today().isoformat(), 3)


def test_redemption_list_is_paginated_by_page_size(circuit, till_client):
    ids = [_redemption_at(till_client, circuit["voucher"], "1.00") for _ in range(5)]
    first = till_client.get(REDEMPTIONS, {"page_size": 2}).json()
    assert first["count"] == 5
    assert first["total"] == "5.00"
    assert [row["id"] for row in first["results"]] == ids[::-1][:2]
    assert first["previous"] is None
    assert "page=2" in first["next"]

    last = till_client.get(REDEMPTIONS, {"page_size": 2, "page": 3}).json()
    assert [row["id"] for row in last["results"]] == ids[:1]
    assert last["next"] is None
    assert "page=2" in last["previous"]
    beyond = till_client.get(REDEMPTIONS, {"page": str(10**30), "page_size": "2"})
    assert beyond.status_code == 200
    assert beyond.json()["results"] == [] and beyond.json()["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"date": "2026-13-01"},
        {"date": "ieri"},
        # Days a till never asks for, whose bounds in Rome's time fall outside the calendar.
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"date": "1999-12-31"},
        {"page": "abc"},
        {"page": "0"},
        {"page_size": "0"},
        {"page_size": "201"},
    ],
)
def test_redemption_list_refuses_a_bad_date_or_page_with_invalid_request(
    circuit, till_client, query
):
    assert_error(till_client.get(REDEMPTIONS, query), 400, "invalid_request")


# --- Scanning a camera frame -----------------------------------------------------------------


@pytest.fixture
def decoder():
    """The server's QR decoder (the system's libzbar0), for the scans that must read a code."""
    zbar.require()


def _upload(content: bytes, name: str = "frame.png", content_type: str = "image/png"):
    return {"image": SimpleUploadedFile(name, content, content_type=content_type)}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_scan_reads_the_code_from_a_voucher_qr(circuit, till_client, decoder):
    code = circuit["voucher"].code
    response = till_client.post(SCAN, _upload(voucher_qr_png(code)), format="multipart")
    assert response.status_code == 200, response.content
    assert response.json() == {"code": code}


def test_scan_of_a_blank_picture_is_refused_with_422_no_code_found(circuit, till_client, decoder):
    blank = _png(Image.new("RGB", (320, 240), "white"))
    response = till_client.post(SCAN, _upload(blank), format="multipart")
    assert_error(response, 422, "no_code_found")


def test_scan_of_a_qr_that_is_not_a_voucher_code_is_refused_with_no_code_found(
    circuit, till_client, decoder
):
    buffer = io.BytesIO()
    segno.make_qr("https://example.org/").save(buffer, kind="png", scale=10)
    response = till_client.post(SCAN, _upload(buffer.getvalue()), format="multipart")
    assert_error(response, 422, "no_code_found")


def _picture(image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size in its header and holds (almost) no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if a subprocess starts (Ghostscript) or a picture's pixels are decoded."""
    import subprocess

    from PIL import ImageFile

    def forbidden(what):
        def refuse(*args, **kwargs):
            raise AssertionError(f"{what} must not run for this picture")

        return refuse

    monkeypatch.setattr(subprocess, "Popen", forbidden("a subprocess"))
    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden("decoding"))
    monkeypatch.setattr(Image.Image, "convert", forbidden("decoding"))


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n{ } loop\nshowpage\n%%EOF\n"
)


@pytest.mark.parametrize(
    "content",
    [EPS, b"\xc5\xd0\xd3\xc6" + b"\x00" * 26 + EPS],
    ids=["eps", "eps with a binary header"],
)
def test_scan_of_postscript_is_refused_without_starting_ghostscript(
    circuit, till_client, no_decoding, content
):
    response = till_client.post(
        SCAN, _upload(content, "frame.png", "image/png"), format="multipart"
    )
    body = assert_error(response, 400, "unsupported_image_format")
    assert "JPEG o PNG" in body["detail"]


@pytest.mark.parametrize(
    ("image_format", "options"),
    [
        ("GIF", {}),
        ("TIFF", {}),
        ("WEBP", {}),
        ("JPEG2000", {}),
        ("BMP", {}),
        ("ICO", {}),
        ("PDF", {}),
    ],
)
def test_scan_of_any_format_but_jpeg_and_png_is_refused_undecoded(
    circuit, till_client, image_format, options
):
    content = _picture(image_format, **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image, "open", lambda *a, **k: pytest.fail("the picture was opened"))
        response = till_client.post(SCAN, _upload(content), format="multipart")
    assert_error(response, 400, "unsupported_image_format")


def test_scan_takes_a_jpeg_frame(circuit, till_client, decoder):
    code = circuit["voucher"].code
    picture = Image.open(io.BytesIO(voucher_qr_png(code))).convert("RGB")
    picture = picture.resize((picture.width * 8, picture.height * 8), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    response = till_client.post(
        SCAN, _upload(buffer.getvalue(), "frame.jpg", "image/jpeg"), format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"code": code}


def test_scan_of_a_png_of_169_million_pixels_is_refused_before_decoding(
    circuit, till_client, no_decoding
):
    content = _png_header(13_000, 13_000)
    assert len(content) < 1024
    response = till_client.post(SCAN, _upload(content), format="multipart")
    body = assert_error(response, 400, "image_too_large")
    assert "25 milioni di pixel" in body["detail"]


def test_scan_of_a_file_that_is_not_an_image_is_refused_with_unsupported_image_format(
    circuit, till_client
):
    response = till_client.post(
        SCAN, _upload(b"%PDF-1.7 not a picture", "frame.png"), format="multipart"
    )
    assert_error(response, 400, "unsupported_image_format")


def test_scan_of_a_broken_png_is_refused_with_invalid_image(circuit, till_client, decoder):
    content = _png(Image.new("RGB", (64, 48), "white"))[:40]
    response = till_client.post(SCAN, _upload(content), format="multipart")
    body = assert_error(response, 400, "invalid_image")
    assert body["detail"] == "Il file non è un'immagine JPEG o PNG leggibile."


def test_scan_of_a_body_over_the_limit_is_refused_before_anything_is_stored(
    circuit, till_client, monkeypatch
):
    from django.core.files import uploadedfile

    from core.parsers import MemoryUploadHandler

    monkeypatch.setattr(
        uploadedfile.TemporaryUploadedFile,
        "__init__",
        lambda *a, **k: pytest.fail("the upload was written to a temporary file"),
    )
    monkeypatch.setattr(
        MemoryUploadHandler,
        "receive_data_chunk",
        lambda *a, **k: pytest.fail("the upload was read"),
    )
    content = b"\x89PNG\r\n\x1a\n" + b"\x00" * (6 * 1024 * 1024)
    response = till_client.post(SCAN, _upload(content), format="multipart")
    body = assert_error(response, 413, "request_too_large")
    assert "MB" in body["detail"]


def test_scan_of_an_image_over_5_mb_within_the_body_limit_is_refused_with_image_too_large(
    circuit, till_client
):
    content = b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024)
    response = till_client.post(SCAN, _upload(content), format="multipart")
    body = assert_error(response, 400, "image_too_large")
    assert body["detail"] == "L'immagine supera i 5 MB."


def test_scan_keeps_the_frame_in_memory_whatever_the_upload_settings(
    circuit, till_client, decoder, settings, monkeypatch
):
    from django.core.files import uploadedfile

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    monkeypatch.setattr(
        uploadedfile.TemporaryUploadedFile,
        "__init__",
        lambda *a, **k: pytest.fail("the upload was written to a temporary file"),
    )
    code = circuit["voucher"].code
    response = till_client.post(SCAN, _upload(voucher_qr_png(code)), format="multipart")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("failure", ["import", "decode"])
def test_scan_without_the_zbar_library_answers_503_service_unavailable(
    circuit, till_client, monkeypatch, failure
):
    import sys

    if failure == "import":
        # What importing pyzbar does on a machine without libzbar0.
        monkeypatch.setitem(sys.modules, "pyzbar.pyzbar", None)
    else:
        pyzbar = zbar.require()

        def missing(*args, **kwargs):
            raise OSError("libzbar.so.0: cannot open shared object file")

        monkeypatch.setattr(pyzbar, "decode", missing)
    code = circuit["voucher"].code
    response = till_client.post(
        SCAN, _upload(voucher_qr_png(code)), format="multipart", HTTP_ACCEPT_LANGUAGE="en"
    )
    body = assert_error(response, 503, "service_unavailable")
    assert "type the voucher" in body["detail"]


def test_scan_without_an_image_is_refused_with_invalid_request(circuit, till_client):
    assert_error(till_client.post(SCAN, {}, format="multipart"), 400, "invalid_request")


def test_scan_needs_credentials(circuit):
    response = APIClient().post(SCAN, _upload(voucher_qr_png(circuit["voucher"].code)))
    assert_error(response, 401, "not_authenticated")


# --- Schema and docs -------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_error_codes(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = response.content.decode()
    for code in [
        "invalid_code_format",
        "invalid_amount",
        "invalid_request",
        "idempotency_key_missing",
        "idempotency_key_reused",
        "voucher_not_found",
        "voucher_expired",
        "voucher_not_yet_valid",
        "voucher_revoked",
        "voucher_exhausted",
        "insufficient_balance",
        "partial_not_allowed",
        "merchant_not_in_circuit",
        "merchant_suspended",
        "merchant_not_accredited",
        "not_authenticated",
        "rate_limited",
        "redemption_not_found",
        "void_window_closed",
        "already_voided",
        "already_settled",
        "not_your_redemption",
        "invalid_image",
        "unsupported_image_format",
        "image_too_large",
        "request_too_large",
        "no_code_found",
    ]:
        assert code in schema, code
    assert "Idempotency-Key" in schema
    assert "deviceKey" in schema


def test_the_schema_documents_the_body_limits_of_the_operations_that_read_a_body(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/vouchers/check/", "/api/v1/redemptions/", "/api/v1/scan/"):
        assert (
            "request_too_large"
            in document["paths"][path]["post"]["responses"]["413"]["description"]
        ), path


def test_the_api_docs_page_loads(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/schema/" in response.content


# --- The voucher's QR for its holder ---------------------------------------------------------


@pytest.fixture
def held_voucher(db):
    initiative = factories.initiative()
    holder = factories.beneficiary(
        municipality=initiative.municipalities.first(), user=factories.user()
    )
    return factories.voucher(initiative=initiative, holder=holder)


@pytest.mark.parametrize(
    ("image_format", "content_type"), [("svg", "image/svg+xml"), ("png", "image/png")]
)
def test_the_holder_gets_the_qr_of_his_voucher(client, held_voucher, image_format, content_type):
    client.force_login(held_voucher.beneficiary.user)
    response = client.get(f"/vouchers/{held_voucher.pk}/qr.{image_format}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_png_qr_decodes_to_exactly_the_voucher_code(client, held_voucher):
    client.force_login(held_voucher.beneficiary.user)
    response = client.get(f"/vouchers/{held_voucher.pk}/qr.png")
    symbols = decode(Image.open(io.BytesIO(response.content)))
    assert [symbol.data.decode() for symbol in symbols] == [held_voucher.code]


@pytest.mark.parametrize("image_format", ["svg", "png"])
def test_another_user_gets_404_for_someone_elses_voucher_qr(client, held_voucher, image_format):
    client.force_login(factories.user())
    assert client.get(f"/vouchers/{held_voucher.pk}/qr.{image_format}").status_code == 404


def test_staff_without_the_view_permission_gets_404_for_a_voucher_qr(client, held_voucher):
    client.force_login(factories.user(is_staff=True))
    assert client.get(f"/vouchers/{held_voucher.pk}/qr.svg").status_code == 404


def test_staff_with_the_view_permission_gets_the_voucher_qr(client, held_voucher):
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    assert client.get(f"/vouchers/{held_voucher.pk}/qr.png").status_code == 200


@pytest.mark.parametrize("image_format", ["svg", "png"])
def test_an_anonymous_visitor_is_sent_to_log_in_for_a_voucher_qr(
    client, held_voucher, image_format
):
    url = f"/vouchers/{held_voucher.pk}/qr.{image_format}"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "next=" in response["Location"]


# --- A sale whose answer was lost --------------------------------------------------------------

LOOKUP = "/api/v1/redemptions/lookup/"


def lookup(client: APIClient, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.get(LOOKUP, **headers)


def test_lookup_returns_the_receipt_of_a_sale_recorded_under_the_key_and_charges_nothing(
    circuit, till_client
):
    voucher = circuit["voucher"]
    sale = redeem(till_client, voucher.code, "20.00", key="lost-answer").json()
    before = snapshot(voucher)
    response = lookup(till_client, "lost-answer")
    assert response.status_code == 200, response.content
    assert response.json() == sale
    assert snapshot(voucher) == before


def test_lookup_of_a_key_never_recorded_says_redemption_not_found_and_charges_nothing(
    circuit, till_client
):
    before = snapshot(circuit["voucher"])
    body = assert_error(lookup(till_client, "never-arrived"), 404, "redemption_not_found")
    assert "nulla è stato addebitato" in body["detail"]
    assert snapshot(circuit["voucher"]) == before


def test_lookup_by_a_cashier_finds_the_sale_of_the_shop_and_not_another_shops(circuit):
    voucher = circuit["voucher"]
    cashier = session_client(factories.cashier(shop=circuit["merchant"]))
    sale = redeem(cashier, voucher.code, "20.00", key="shared-key").json()
    assert lookup(cashier, "shared-key").json()["receipt_number"] == sale["receipt_number"]
    other_shop = factories.merchant(initiative=circuit["initiative"])
    assert_error(lookup(device_client(other_shop), "shared-key"), 404, "redemption_not_found")


def test_lookup_of_a_voided_sale_says_it_was_voided(circuit, till_client):
    sale = redeem(till_client, circuit["voucher"].code, "20.00", key="voided-later").json()
    till_client.post(void_url(sale["id"]))
    assert lookup(till_client, "voided-later").json()["status"] == "voided"


def test_a_sale_arriving_after_its_key_was_looked_up_and_not_found_is_refused_and_debits_nothing(
    circuit, till_client
):
    voucher = circuit["voucher"]
    assert_error(lookup(till_client, "held-up"), 404, "redemption_not_found")
    before = snapshot(voucher)

    # The sale, held up on its way, reaches the server after the till was told "not charged".
    body = assert_error(
        redeem(till_client, voucher.code, "20.00", key="held-up"), 409, "idempotency_key_closed"
    )
    assert "nulla è stato addebitato" in body["detail"]
    assert snapshot(voucher) == before
    assert voucher.balance == Decimal("100.00")
    assert RefusedAttempt.objects.filter(reason="idempotency_key_closed").count() == 1
    # Asked again, the answer stays "not charged"; the same sale with a new key is made.
    assert_error(lookup(till_client, "held-up"), 404, "redemption_not_found")
    assert redeem(till_client, voucher.code, "20.00", key="made-again").status_code == 201
    assert snapshot(voucher)[0] == Decimal("80.00")
    assert not unbalanced_journals().exists()


def test_a_key_closed_by_a_cashiers_lookup_is_refused_in_english_too(circuit):
    voucher = circuit["voucher"]
    cashier = session_client(factories.cashier(shop=circuit["merchant"]))
    assert_error(lookup(cashier, "closed-key"), 404, "redemption_not_found")
    response = redeem(cashier, voucher.code, "20.00", key="closed-key", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_error(response, 409, "idempotency_key_closed")
    assert "nothing was charged" in body["detail"]
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")


def test_a_key_closed_in_one_shop_leaves_the_same_key_free_in_another(circuit, till_client):
    assert_error(lookup(till_client, "shop-key"), 404, "redemption_not_found")
    other_shop = factories.merchant(initiative=circuit["initiative"])
    response = redeem(device_client(other_shop), circuit["voucher"].code, "20.00", key="shop-key")
    assert response.status_code == 201, response.content


def test_a_lookup_after_a_recorded_sale_returns_it_and_the_sale_still_replays(circuit, till_client):
    voucher = circuit["voucher"]
    sale = redeem(till_client, voucher.code, "20.00", key="recorded").json()
    assert lookup(till_client, "recorded").json() == sale
    again = redeem(till_client, voucher.code, "20.00", key="recorded")
    assert again.status_code == 201, again.content
    assert again.json() == sale
    assert again["Idempotent-Replayed"] == "true"
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("80.00")


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 256])
def test_lookup_without_a_usable_key_is_refused_with_idempotency_key_missing(
    circuit, till_client, key
):
    assert_error(lookup(till_client, key), 400, "idempotency_key_missing")


def test_lookup_needs_a_till(circuit, api_client):
    assert_error(lookup(api_client, "any"), 401, "not_authenticated")
    assert_error(lookup(session_client(factories.user()), "any"), 403, "not_a_merchant")


def test_the_openapi_schema_documents_the_lookup(client):
    schema = client.get("/api/schema/").content.decode()
    assert "redemption_lookup" in schema
    assert "/api/v1/redemptions/lookup/" in schema


def test_void_answers_with_the_vouchers_balance_after_the_void(circuit, till_client):
    voucher = circuit["voucher"]
    first = redeem(till_client, voucher.code, "30.00").json()
    redeem(till_client, voucher.code, "10.00")
    response = till_client.post(void_url(first["id"]))
    assert response.status_code == 200, response.content
    assert response.json()["balance_after"] == "70.00"  # the sale's, kept as it was
    assert response.json()["voucher_balance"] == "90.00"
