"""Property-based tests of the API against its own OpenAPI schema (/api/schema/).

Schemathesis generates valid and invalid requests for every operation and sends them to
the app in this process, inside the test's database transaction, as a till of a shop with
vouchers to spend. Every answer must be documented: no 5xx, a documented status code,
content type, headers and body.
"""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from tests import factories

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def till(db, settings):
    """A shop of a call's circuit, its device key, vouchers to spend and one redemption."""
    # Random well-formed codes are unknown: without a high limit, most requests after the
    # first ten would only meet the throttle.
    settings.VOUCHER_UNKNOWN_CODE_LIMIT = 100_000
    settings.VOUCHER_UNKNOWN_CODE_IP_LIMIT = 100_000
    initiative = factories.initiative()
    shop = factories.merchant(initiative=initiative)
    vouchers = [factories.voucher(initiative=initiative) for _ in range(3)]
    redemption = voucher_redeem(
        till=Till(merchant=shop),
        code=vouchers[0].code,
        amount="5.00",
        idempotency_key="seed",
    ).redemption
    return {
        "headers": {"Authorization": f"Token {factories.device_key(shop=shop)}"},
        "codes": [voucher.grouped_code for voucher in vouchers],
        "redemption_id": redemption.pk,
    }


# Loaded when the module is collected, from the app itself (the view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Outside Django's test client every request would close the connection that holds
    the test's transaction (it is not in autocommit): detach that signal for the test."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    max_examples=30,
    deadline=3000,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_of_the_api_is_documented(case, till):
    # Random codes and ids reach no voucher: put a real one in place of most of them,
    # chosen by the generated value itself so that Hypothesis still drives the choice.
    if isinstance(case.body, dict) and isinstance(case.body.get("code"), str):
        pick = len(case.body["code"]) % 4
        if pick < len(till["codes"]):
            case.body["code"] = till["codes"][pick]
    redemption_id = (case.path_parameters or {}).get("redemption_id")
    if isinstance(redemption_id, int) and redemption_id % 2 == 0:
        case.path_parameters["redemption_id"] = till["redemption_id"]
    case.call_and_validate(headers=till["headers"], checks=CHECKS)


def test_the_schema_documents_the_throttle_and_the_unavailable_database(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    create = document["paths"]["/api/v1/redemptions/"]["post"]["responses"]
    assert "Retry-After" in create["429"]["description"]
    for path in document["paths"].values():
        for operation in path.values():
            assert "service_unavailable" in operation["responses"]["503"]["description"]
    key = document["paths"]["/api/v1/redemptions/"]["post"]["parameters"][0]
    assert key["name"] == "Idempotency-Key"
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)


@pytest.mark.django_db
def test_an_api_url_that_matches_nothing_answers_with_the_json_error(client, till):
    response = client.post("/api/v1/redemptions/abc/void/", headers=till["headers"])
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"]
    assert client.get("/pagina-che-non-esiste/").status_code == 404
    assert "json" not in client.get("/pagina-che-non-esiste/")["Content-Type"]
