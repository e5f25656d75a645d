"""``manage.py seed_demo``: the demo data, built through the services, once."""

import hashlib
import hmac
import json
import re
from contextlib import redirect_stdout
from datetime import date
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient
from stdnum.it import codicefiscale

from core.models import Contribution, Membership, Organization, Role
from core.selectors import unbalanced_journals
from core.uploads import checked_upload
from reports.demo import data as demo
from reports.demo import identities
from vouchers.codes import ALPHABET, normalize_code
from vouchers.models import (
    Application,
    Beneficiary,
    Expense,
    Initiative,
    ReimbursementClaim,
    Voucher,
)
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.selectors.payments import claims_awaiting_payment, payable_cash_grants
from vouchers.services.access import access_code_login

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/vouchers/check/"
AMOUNT = re.compile(r"^\d+\.\d{2}$")
JOINT_INITIATIVE = demo.INITIATIVES[0].title


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the demo's receipts


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    return {
        model._meta.db_table: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


@pytest.fixture
def report() -> dict:
    seed()
    return json.loads(seed("--json"))


def test_seed_demo_creates_the_data_once_and_a_second_run_changes_nothing():
    first = seed()
    counts = table_counts()
    first_json = seed("--json")

    second = seed()

    assert "creati" in first and "22 beneficiari" in first and "40 buoni" in first
    assert "già presenti" in second
    assert table_counts() == counts
    assert seed("--json") == first_json
    assert Organization.objects.filter(name=demo.AGENCY_NAME).count() == 1


def test_json_has_exactly_the_documented_shape(report):
    assert set(report) == {"users", "beneficiary", "merchants", "vouchers"}
    for user in report["users"]:
        assert set(user) == {"username", "password", "role", "organization"}
    assert set(report["beneficiary"]) == {"name", "fiscal_code", "access_code", "email"}
    for merchant in report["merchants"]:
        assert set(merchant) == {
            "name",
            "status",
            "in_circuit",
            "device_key",
            "owner",
            "cashier",
        }
        assert set(merchant["owner"]) == {"username", "password"}
        assert merchant["cashier"] is None or set(merchant["cashier"]) == {"username", "password"}
    for voucher in report["vouchers"]:
        assert set(voucher) == {
            "code",
            "state",
            "balance",
            "face_value",
            "partial_allowed",
            "holder_name",
            "initiative",
        }
        assert normalize_code(voucher["code"]) == voucher["code"]
        assert AMOUNT.match(voucher["balance"]) and AMOUNT.match(voucher["face_value"])


def test_json_has_every_voucher_state_and_every_merchant_status(report):
    states = {voucher["state"] for voucher in report["vouchers"]}
    statuses = {merchant["status"] for merchant in report["merchants"]}

    assert states == {"active", "partly_spent", "exhausted", "expired", "not_yet_valid", "revoked"}
    assert statuses == {"accredited", "suspended", "requested", "rejected"}
    accredited = [m for m in report["merchants"] if m["status"] == "accredited"]
    assert [m["in_circuit"] for m in accredited] == [True, True, False]
    assert report["merchants"][0]["in_circuit"]  # the README's example uses the first shop


def test_json_states_match_the_vouchers(report):
    by_code = {v.code: v for v in Voucher.objects.all()}
    for row in report["vouchers"]:
        voucher = by_code[row["code"]]
        assert row["balance"] == f"{voucher.balance:.2f}"
        expected_status = {
            "active": Voucher.Status.ACTIVE,
            "partly_spent": Voucher.Status.ACTIVE,
            "not_yet_valid": Voucher.Status.ACTIVE,
            "exhausted": Voucher.Status.EXHAUSTED,
            "expired": Voucher.Status.EXPIRED,
            "revoked": Voucher.Status.REVOKED,
        }[row["state"]]
        assert voucher.status == expected_status
    fixed = [v for v in report["vouchers"] if not v["partial_allowed"]]
    assert fixed and {v["face_value"] for v in fixed} == {"25.00"}
    joint = [v for v in report["vouchers"] if v["initiative"] == JOINT_INITIATIVE]
    assert {v["face_value"] for v in joint} == {"100.00"} and all(
        v["partial_allowed"] for v in joint
    )
    assert (
        next(v for v in report["vouchers"] if v["state"] == "active")["initiative"]
        == JOINT_INITIATIVE
    )


def test_voucher_codes_are_the_hmac_of_the_secret_key_in_crockford_base32(report):
    def expected(number: int) -> str:
        digest = hmac.new(
            settings.SECRET_KEY.encode(), f"demo:voucher:{number}".encode(), hashlib.sha256
        ).digest()
        value = int.from_bytes(digest, "big") >> 156
        return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(20)))

    codes = [voucher["code"] for voucher in report["vouchers"]]

    assert codes == [expected(n) for n in range(len(codes))]
    with override_settings(SECRET_KEY="another-installation-" + "x" * 40):
        assert identities.demo_voucher_code(0) != codes[0]
        assert identities.demo_device_key(0) != report["merchants"][0]["device_key"]


def test_every_movement_went_through_the_ledger(report):
    assert not unbalanced_journals().exists()
    for voucher in Voucher.objects.all():
        assert voucher_ledger_balance(voucher_id=voucher.pk) == voucher.balance
    contributions = Contribution.objects.select_related("funder").order_by("funder__name")
    assert [(c.funder.name, c.funder.funder_kind) for c in contributions] == [
        ("Fondazione della Comunità Bergamasca", Organization.FunderKind.FOUNDATION),
        ("Regione Lombardia", Organization.FunderKind.REGIONAL),
    ]


def test_municipalities_have_their_istat_codes_and_the_joint_call_has_both(report):
    municipalities = dict(
        Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY).values_list(
            "name", "istat_code"
        )
    )
    joint = Initiative.objects.get(title=JOINT_INITIATIVE)

    assert municipalities == {"Comune di Bergamo": "016024", "Comune di Seriate": "016198"}
    assert joint.municipalities.count() == 2
    assert Initiative.objects.filter(status=Initiative.Status.PUBLISHED).exists()


def test_beneficiaries_have_valid_fiscal_codes_matching_their_birth(report):
    people = {identities.person_fiscal_code(person): person for person in demo.BENEFICIARIES}
    beneficiaries = list(Beneficiary.objects.all())

    assert len(beneficiaries) >= 20
    for beneficiary in beneficiaries:
        person = people[beneficiary.fiscal_code]
        assert codicefiscale.is_valid(beneficiary.fiscal_code)
        assert codicefiscale.get_birth_date(beneficiary.fiscal_code) == person.birth_date
        assert codicefiscale.get_gender(beneficiary.fiscal_code) == ("F" if person.female else "M")
        assert beneficiary.fiscal_code[:3] == identities._name_code(
            person.last_name, first_name=False
        )
    assert any(b.email for b in beneficiaries) and any(b.phone for b in beneficiaries)
    assert any(not b.email and not b.phone for b in beneficiaries)
    holder = Beneficiary.objects.get(user__username="beneficiario")
    assert holder.vouchers.count() >= 2


def test_fiscal_code_of_a_textbook_example():
    code = identities.fiscal_code(
        first_name="Mario",
        last_name="Rossi",
        female=False,
        birth_date=date(1980, 1, 1),
        birthplace="H501",
    )

    assert code == "RSSMRA80A01H501U"


def test_staff_have_a_membership_for_every_role(report):
    roles = {user["role"] for user in report["users"]}
    memberships = Membership.objects.select_related("user", "organization")

    assert {role.value for role in Role} <= roles
    assert {"superuser", "beneficiary", "merchant_owner", "cashier"} <= roles
    assert {m.role for m in memberships} == {role.value for role in Role}
    assert all(m.user.is_staff and m.user.groups.exists() for m in memberships)
    kinds = {m.role: m.organization.kind for m in memberships}
    assert kinds[Role.AGENCY_ADMIN] == Organization.Kind.AGENCY
    assert kinds[Role.FUNDER] == Organization.Kind.FUNDER
    assert kinds[Role.DESK_OPERATOR] == Organization.Kind.MUNICIPALITY
    assert get_user_model().objects.get(username="admin").is_superuser


def test_every_printed_password_logs_in(report):
    logins = [(u["username"], u["password"]) for u in report["users"]]
    logins += [
        (m["cashier"]["username"], m["cashier"]["password"])
        for m in report["merchants"]
        if m["cashier"]
    ]

    assert len(logins) >= 20
    for username, password in logins:
        request = RequestFactory().post("/admin/login/")
        assert authenticate(request, username=username, password=password), username


def test_the_demo_beneficiary_logs_in_to_the_app_with_the_printed_access_code(report):
    access = identities.demo_app_access()

    beneficiary = access_code_login(
        fiscal_code=access["fiscal_code"], access_code=access["access_code"].lower()
    )

    assert beneficiary.user.username == "beneficiario"
    assert access["access_code"] in seed("--logins")


def test_device_keys_authenticate_and_each_shop_gets_its_answer(report):
    code = next(
        v["code"]
        for v in report["vouchers"]
        if v["state"] == "active" and v["initiative"] == JOINT_INITIATIVE
    )
    answers = {}
    for merchant in report["merchants"]:
        if merchant["device_key"] is None:
            continue
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {merchant['device_key']}")
        answers[merchant["name"]] = client.post(CHECK, {"code": code}, format="json")

    in_circuit = [m for m in report["merchants"] if m["in_circuit"]]
    outside = next(
        m for m in report["merchants"] if m["status"] == "accredited" and not m["in_circuit"]
    )
    suspended = next(m for m in report["merchants"] if m["status"] == "suspended")
    assert len(in_circuit) == 2
    for merchant in in_circuit:
        response = answers[merchant["name"]]
        assert response.status_code == 200, response.json()
        assert response.json()["redeemable"] is True and response.json()["reason"] is None
    response = answers[outside["name"]]
    assert response.status_code == 200
    assert response.json()["redeemable"] is False
    assert response.json()["reason"] == "merchant_not_in_circuit"
    response = answers[suspended["name"]]
    assert response.status_code == 403
    assert response.json()["code"] == "merchant_suspended"


def test_logins_prints_users_keys_and_grouped_codes_in_italian(report):
    output = seed("--logins")

    assert "Accessi di prova" in output
    assert "admin" in output and "demo-admin" in output and "Sportellista" in output
    assert report["merchants"][0]["device_key"] in output
    assert re.search(r"([0-9A-Z]{5}-){3}[0-9A-Z]{5}\s+attivo", output)
    for label in ("speso in parte", "esaurito", "scaduto", "non ancora valido", "revocato"):
        assert label in output
    assert "Titolari e cassieri entrano nella cassa (/cassa/)" in output
    assert report["merchants"][0]["owner"]["username"] in output


def test_json_and_logins_seed_an_empty_database_first():
    report = json.loads(seed("--json"))

    assert len(report["vouchers"]) == identities.demo_voucher_total()
    assert "già presenti" in seed()


def test_seed_demo_refuses_to_overwrite_an_existing_user():
    get_user_model().objects.create_user(username="admin", password="segreta-vera")

    with pytest.raises(CommandError, match="admin"):
        seed()
    assert not Organization.objects.filter(name=demo.AGENCY_NAME).exists()


@override_settings(PRODUCTION=True)
def test_seed_demo_refuses_to_run_in_production():
    with pytest.raises(CommandError, match="produzione|production"):
        seed()
    assert not Voucher.objects.exists()


def test_the_calls_paid_by_transfer_went_through_their_whole_life(report):
    reimbursement = Initiative.objects.get(title="Rimborso spese scolastiche")
    cash = Initiative.objects.get(title="Contributo affitto")

    assert reimbursement.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT
    assert cash.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER
    assert reimbursement.status == cash.status == Initiative.Status.ISSUED
    for initiative in (reimbursement, cash):
        assert [m.istat_code for m in initiative.municipalities.all()] == ["016024"]
        assert initiative.funding_sources.count() == 2
        for application in initiative.applications.all():
            assert application.status == Application.Status.APPROVED
            assert application.iban.startswith("IT")
            decision = application.decisions.get()
            assert decision.decided_by.username == "convalida"
            assert application.entered_by is None or application.entered_by.username == "sportello"
    login = Application.objects.get(
        initiative=reimbursement, applicant__user__username=demo.BENEFICIARY_LOGIN[0]
    )
    assert login.outcome == Application.Outcome.FUNDED and login.amount > 0
    assert set(cash.applications.values_list("outcome", flat=True)) == {Application.Outcome.ISSUED}


def test_one_claim_waits_for_review_and_one_for_the_payment(report):
    pending, decided = (
        ReimbursementClaim.objects.filter(status=status).get()
        for status in (
            ReimbursementClaim.Status.SUBMITTED,
            ReimbursementClaim.Status.PARTLY_APPROVED,
        )
    )

    assert pending.submitted_by.username == "sportello"
    assert set(pending.expenses.values_list("status", flat=True)) == {Expense.Status.PENDING}
    assert decided.beneficiary.user.username == demo.BENEFICIARY_LOGIN[0]
    lines = list(decided.expenses.order_by("spent_on"))
    assert [e.status for e in lines] == [Expense.Status.APPROVED, Expense.Status.REDUCED]
    assert lines[1].refusal_reason and lines[1].approved_amount < lines[1].amount
    assert list(claims_awaiting_payment()) == [decided]
    for expense in Expense.objects.all():
        assert checked_upload(expense.receipt) == expense.receipt_content_type


def test_the_cash_contributions_are_ready_for_a_payment_batch(report):
    payable, excluded = payable_cash_grants()

    assert len(payable) == 3 and not excluded
    assert all(p.amount == p.application.amount > 0 for p in payable)


def test_logins_mention_the_calls_paid_by_transfer(report):
    output = seed("--logins")

    assert "«Rimborso spese scolastiche», «Contributo affitto»" in output
    assert "prepara-distinta" in output


CONSOLE_MAIL = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}


# Committed for real, as in a terminal, so that the mail goes out while the command runs.
@pytest.mark.django_db(transaction=True)
@override_settings(MAILERS=CONSOLE_MAIL)
def test_json_on_a_fresh_database_is_json_alone_and_its_logins_open_the_app_and_the_till():
    # As in a terminal: the command and the development mailer share the same stdout.
    terminal = StringIO()
    with redirect_stdout(terminal):
        call_command("seed_demo", "--json")

    report = json.loads(terminal.getvalue())

    beneficiary = report["beneficiary"]
    app = Client()
    response = app.post(
        "/accesso/",
        {
            "code-fiscal_code": beneficiary["fiscal_code"],
            "code-access_code": beneficiary["access_code"],
        },
    )
    assert response.status_code == 302 and response.url == "/buoni/"
    assert app.get("/buoni/").status_code == 200
    owners = [m for m in report["merchants"] if m["owner"]]
    assert len(owners) == len(demo.MERCHANTS)
    for merchant in owners:
        till = Client()
        response = till.post("/cassa/accesso/", merchant["owner"])
        assert response.status_code == 302 and response.url == "/cassa/", merchant["name"]
        assert merchant["name"] in till.get("/cassa/").content.decode()


@pytest.mark.django_db(transaction=True)
@override_settings(MAILERS=CONSOLE_MAIL)
def test_the_mail_sent_while_seeding_goes_to_stderr(capsys):
    seed()

    captured = capsys.readouterr()
    assert "Subject:" not in captured.out
    assert "Subject:" in captured.err
