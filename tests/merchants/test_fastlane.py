"""The till's fast lane answers as the redemption view would, and leaves it everything else."""

import uuid
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from merchants import api, throttle
from merchants.fastlane import redemption_representation
from merchants.models import Redemption, RefusedAttempt
from merchants.serializers import RedemptionOutputSerializer
from merchants.services.tills import Till
from merchants.services.voids import redemption_void
from tests import factories

pytestmark = pytest.mark.django_db

REDEMPTIONS = "/api/v1/redemptions/"
# Headers that differ from one response to the next whatever answers.
VOLATILE = {"Date"}


@pytest.fixture
def view_calls(monkeypatch):
    """How many requests reached the redemption view."""
    calls = []
    real = api.RedemptionListCreateApi.dispatch

    def counting(self, request, *args, **kwargs):
        calls.append(request)
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(api.RedemptionListCreateApi, "dispatch", counting)
    return calls


def post(client, body, key=None, **extra):
    return client.post(
        REDEMPTIONS,
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
        **extra,
    )


def headers(response) -> dict:
    return {name: value for name, value in response.headers.items() if name not in VOLATILE}


def test_a_redemption_is_answered_by_the_lane_exactly_as_the_view_answers_it(
    circuit, till_client, view_calls
):
    body = {"code": circuit["voucher"].grouped_code, "amount": "12.50"}
    first = post(till_client, body, key="sale-1")
    assert first.status_code == 201, first.content
    assert view_calls == []  # the lane answered
    assert first.json()["balance_after"] == "87.50"

    lane_replay = post(till_client, body, key="sale-1")
    with override_settings(TILL_FAST_LANE=False):
        view_replay = post(till_client, body, key="sale-1")
    assert len(view_calls) == 1  # only the request with the lane switched off

    assert lane_replay.status_code == view_replay.status_code == 201
    assert lane_replay.content == view_replay.content == first.content
    assert headers(lane_replay) == headers(view_replay)
    assert view_replay["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    # The security headers of the stack reach the lane's answers.
    for name in ("X-Frame-Options", "X-Content-Type-Options", "Content-Security-Policy"):
        assert name in first or name in view_replay, name
        assert first.get(name) == view_replay.get(name)
    circuit["voucher"].refresh_from_db()
    assert circuit["voucher"].balance == Decimal("87.50")
    assert Redemption.objects.count() == 1


def test_a_new_redemption_through_the_lane_matches_one_through_the_view(circuit, view_calls):
    initiative, shop = circuit["initiative"], circuit["merchant"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.device_key(shop=shop)}")
    one, two = factories.voucher(initiative=initiative), factories.voucher(initiative=initiative)
    lane = post(client, {"code": one.code, "amount": "3"}, HTTP_ACCEPT_LANGUAGE="en")
    with override_settings(TILL_FAST_LANE=False):
        view = post(client, {"code": two.code, "amount": "3"}, HTTP_ACCEPT_LANGUAGE="en")
    assert len(view_calls) == 1
    assert lane.status_code == view.status_code == 201
    assert headers(lane) == headers(view)
    assert lane["Content-Language"] == "en"
    differing = {"id", "holder_name", "created_at", "receipt_number"}
    assert {k: v for k, v in lane.json().items() if k not in differing} == {
        k: v for k, v in view.json().items() if k not in differing
    }
    assert set(lane.json()) == set(view.json())


def test_refusals_go_to_the_view_and_are_recorded_once(circuit, till_client, view_calls):
    response = post(till_client, {"code": circuit["voucher"].code, "amount": "100.01"})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert len(view_calls) == 1
    assert RefusedAttempt.objects.filter(reason="insufficient_balance").count() == 1
    assert not Redemption.objects.exists()


@pytest.mark.parametrize(
    "case",
    ["unknown key", "malformed json", "form body", "float amount", "extra field", "no key"],
)
def test_requests_out_of_the_ordinary_go_to_the_view(circuit, view_calls, case):
    client = APIClient()
    token = factories.device_key(shop=circuit["merchant"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    code = circuit["voucher"].code
    if case == "unknown key":
        client.credentials(HTTP_AUTHORIZATION="Token bc_not-a-key")
        response = post(client, {"code": code, "amount": "1.00"})
        expected = (401, "not_authenticated")
    elif case == "malformed json":
        response = client.post(
            REDEMPTIONS, b"{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
        )
        expected = (400, "invalid_request")
    elif case == "form body":
        response = client.post(
            REDEMPTIONS, {"code": code, "amount": "1.00"}, HTTP_IDEMPOTENCY_KEY="k"
        )
        expected = (201, None)
    elif case == "float amount":
        response = post(client, {"code": code, "amount": 1.5})
        expected = (400, "invalid_amount")
    elif case == "extra field":
        response = post(client, {"code": code, "amount": "1.00", "note": "x"})
        expected = (201, None)
    else:
        response = client.post(REDEMPTIONS, {"code": code, "amount": "1.00"}, format="json")
        expected = (400, "idempotency_key_missing")
    assert len(view_calls) == 1, case
    assert response.status_code == expected[0], response.content
    if expected[1]:
        assert response.json()["code"] == expected[1]


def test_a_throttled_till_is_refused_by_the_view(circuit, till_client, view_calls, settings):
    settings.VOUCHER_UNKNOWN_CODE_LIMIT = 1
    from vouchers.codes import generate_code

    assert post(till_client, {"code": generate_code(), "amount": "1.00"}).status_code == 404
    response = post(till_client, {"code": circuit["voucher"].code, "amount": "1.00"})
    assert response.status_code == 429
    assert len(view_calls) == 2
    assert not Redemption.objects.exists()


def test_a_shop_cashier_logged_in_is_served_by_the_view(circuit, view_calls):
    person = factories.cashier(shop=circuit["merchant"])
    client = APIClient()
    client.force_login(person)
    response = post(client, {"code": circuit["voucher"].code, "amount": "1.00"})
    assert response.status_code == 201
    assert len(view_calls) == 1


def test_the_representation_is_the_serializers(circuit):
    from merchants.services.redemption import voucher_redeem
    from merchants.services.tills import Till

    till = Till(merchant=circuit["merchant"])
    result = voucher_redeem(
        till=till, code=circuit["voucher"].code, amount="7", idempotency_key="a"
    )
    for redemption in (result.redemption, Redemption.objects.get(pk=result.redemption.pk)):
        assert redemption_representation(redemption) == RedemptionOutputSerializer(redemption).data
    voided = redemption_void(till=till, redemption_id=result.redemption.pk)
    assert voided.voided_at is not None
    with timezone.override("UTC"):
        assert redemption_representation(voided) == RedemptionOutputSerializer(voided).data
    assert redemption_representation(voided) == RedemptionOutputSerializer(voided).data


def test_a_key_revoked_after_a_sale_is_refused_at_the_next(circuit, view_calls):
    from merchants.models import DeviceKey
    from merchants.services.devices import device_key_revoke

    client = APIClient()
    raw = factories.device_key(shop=circuit["merchant"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    body = {"code": circuit["voucher"].code, "amount": "1.00"}
    assert post(client, body).status_code == 201
    device_key_revoke(device_key=DeviceKey.objects.get(prefix=raw[3:11]))

    response = post(client, body)

    assert response.status_code == 401, response.content
    assert Redemption.objects.count() == 1


def test_a_shop_suspended_after_a_sale_is_refused_at_the_next(circuit, till_client, view_calls):
    from merchants.models import Merchant
    from merchants.services.accreditation import merchant_set_status

    body = {"code": circuit["voucher"].code, "amount": "1.00"}
    assert post(till_client, body).status_code == 201
    merchant_set_status(
        merchant=circuit["merchant"], status=Merchant.Status.SUSPENDED, reason="Controlli"
    )

    response = post(till_client, body)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "merchant_suspended"
    assert Redemption.objects.count() == 1
    assert len(view_calls) == 1


def wsgi_post(body: bytes, *, key: str, token: str, content_type="application/json", **extra):
    """A request through ``config.wsgi.application``, as gunicorn hands it over."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import RequestFactory

    from config.wsgi import application

    environ = (
        RequestFactory()
        .generic(
            "POST",
            REDEMPTIONS,
            body,
            content_type=content_type,
            HTTP_AUTHORIZATION=f"Token {token}",
            HTTP_IDEMPOTENCY_KEY=key,
            **extra,
        )
        .environ
    )
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=int(status.split()[0]), headers=dict(headers))

    # The test's transaction must outlive the request, as Django's test client makes it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        answer["content"] = b"".join(result)
        result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer


def test_the_wsgi_application_answers_sales_in_front_of_django(circuit, view_calls):
    import json

    code = circuit["voucher"].code
    sale = wsgi_post(
        json.dumps({"code": code, "amount": "10.00"}).encode(), key="w-1", token=circuit["key"]
    )
    assert sale["status"] == 201, sale
    assert view_calls == []
    assert json.loads(sale["content"])["balance_after"] == "90.00"
    assert sale["headers"]["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in sale["headers"]
    assert sale["headers"]["Content-Length"] == str(len(sale["content"]))

    # A refusal goes on to Django, which reads the same body again.
    refused = wsgi_post(
        json.dumps({"code": code, "amount": "95.00"}).encode(), key="w-2", token=circuit["key"]
    )
    assert refused["status"] == 409
    assert json.loads(refused["content"])["code"] == "insufficient_balance"
    assert len(view_calls) == 1
    # So does a body too large for the lane, unread (the view ignores the unknown field).
    padded = json.dumps({"code": code, "amount": "1.00", "pad": "x" * 5000}).encode()
    large = wsgi_post(padded, key="w-3", token=circuit["key"])
    assert large["status"] == 201, large
    assert json.loads(large["content"])["balance_after"] == "89.00"
    assert len(view_calls) == 2
    assert Redemption.objects.count() == 2


def test_the_lane_applies_the_header_middleware_that_heads_the_stack(settings):
    from merchants.fastlane import HEADER_MIDDLEWARE

    assert settings.MIDDLEWARE[: len(HEADER_MIDDLEWARE)] == list(HEADER_MIDDLEWARE)


def test_a_sale_over_plain_http_is_redirected_by_the_stack(circuit, till_client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = post(till_client, {"code": circuit["voucher"].code, "amount": "1.00"})
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert not Redemption.objects.exists()


def test_a_host_not_allowed_gets_the_stacks_answer(circuit, settings):
    import json

    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["buonocomune.example.org"]
    answer = wsgi_post(
        json.dumps({"code": circuit["voucher"].code, "amount": "1.00"}).encode(),
        key="h-1",
        token=circuit["key"],
        HTTP_HOST="evil.example.com",
    )
    assert answer["status"] == 400
    assert not Redemption.objects.exists()


def test_the_lanes_security_headers_follow_the_scheme_and_the_settings(
    circuit, till_client, view_calls, settings
):
    settings.SECURE_HSTS_SECONDS = 3600
    body = {"code": circuit["voucher"].code, "amount": "1.00"}
    plain = post(till_client, body)
    secure = post(till_client, body, key="hsts-1", secure=True)
    assert plain.status_code == secure.status_code == 201
    assert view_calls == []
    assert "Strict-Transport-Security" not in plain
    assert secure["Strict-Transport-Security"] == "max-age=3600"
    with override_settings(TILL_FAST_LANE=False):
        view = post(till_client, body, key="hsts-1", secure=True)
    assert len(view_calls) == 1
    replayed = {"Idempotent-Replayed"}
    assert {k: v for k, v in headers(view).items() if k not in replayed} == headers(secure)

    # Changed settings reach the lane's next answer.
    settings.SECURE_HSTS_SECONDS = 60
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    again = post(till_client, body, secure=True)
    assert again["Strict-Transport-Security"] == "max-age=60"
    assert again["X-Frame-Options"] == "SAMEORIGIN"
    assert len(view_calls) == 1


def test_the_lane_keeps_a_moment_that_a_till_is_not_throttled(
    circuit, till_client, view_calls, settings, monkeypatch
):
    from types import SimpleNamespace

    from django.core.cache import cache

    from merchants.models import DeviceKey
    from merchants.throttle import unknown_code_window
    from vouchers.codes import generate_code

    moment = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: moment[0])
    monkeypatch.setattr(throttle, "throttle_clock", lambda: 6000.0)  # one window throughout
    settings.VOUCHER_UNKNOWN_CODE_LIMIT = 1
    settings.VOUCHER_THROTTLE_CLEAN_SECONDS = 1.0
    body = {"code": circuit["voucher"].code, "amount": "1.00"}
    assert post(till_client, body).status_code == 201

    # Another worker counted an unknown code of this till: within the second, this worker's
    # lane still serves a valid sale; an unknown code goes to the view, which reads afresh.
    device = DeviceKey.objects.get(merchant=circuit["merchant"])
    till = Till(merchant=circuit["merchant"], device=device)
    request = SimpleNamespace(META={"REMOTE_ADDR": "127.0.0.1"})
    for key in unknown_code_window(request, till).limits:
        cache.set(key, 1)
    moment[0] += 0.5
    assert post(till_client, body).status_code == 201
    assert post(till_client, {"code": generate_code(), "amount": "1.00"}).status_code == 429
    # Past the second, the lane reads the counters again and leaves the refusal to the view.
    moment[0] += 1.0
    assert post(till_client, body).status_code == 429
    assert Redemption.objects.count() == 2


def test_an_unknown_code_counted_here_is_seen_by_the_lane_at_once(
    circuit, till_client, view_calls, settings
):
    from vouchers.codes import generate_code

    settings.VOUCHER_UNKNOWN_CODE_LIMIT = 1
    settings.VOUCHER_THROTTLE_CLEAN_SECONDS = 60.0
    body = {"code": circuit["voucher"].code, "amount": "1.00"}
    assert post(till_client, body).status_code == 201
    assert post(till_client, {"code": generate_code(), "amount": "1.00"}).status_code == 404
    assert post(till_client, body).status_code == 429
    assert Redemption.objects.count() == 1


@pytest.mark.parametrize("amount", ["1e0", "1_0", "\u0661\u0660", " 1,5 ", "1.005", "0", ""])
def test_the_service_the_lane_calls_refuses_an_amount_outside_the_pattern_before_any_query(
    circuit, django_assert_num_queries, amount
):
    """On PostgreSQL the sale is one call of the database function: the amount is refused
    before it, so the function only ever sees a positive amount in cents."""
    from merchants.errors import RedemptionError
    from merchants.services.redemption import voucher_redeem
    from merchants.services.tills import Till

    till = Till(merchant=circuit["merchant"])
    with django_assert_num_queries(0), pytest.raises(RedemptionError) as refusal:
        voucher_redeem(till=till, code=circuit["voucher"].code, amount=amount, idempotency_key="a")
    assert refusal.value.code == "invalid_amount"


def test_a_sale_with_a_key_closed_by_a_lookup_is_refused_and_debits_nothing(
    circuit, till_client, view_calls
):
    voucher = circuit["voucher"]
    lookup = till_client.get("/api/v1/redemptions/lookup/", HTTP_IDEMPOTENCY_KEY="held-up")
    assert lookup.status_code == 404 and lookup.json()["code"] == "redemption_not_found"

    # The lane debits nothing and leaves the refusal to the view, which records it once.
    response = post(till_client, {"code": voucher.code, "amount": "20.00"}, key="held-up")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "idempotency_key_closed"
    assert len(view_calls) == 1
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("100.00")
    assert not Redemption.objects.exists()
    assert RefusedAttempt.objects.filter(reason="idempotency_key_closed").count() == 1
