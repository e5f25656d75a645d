"""Two-factor authentication for staff in the admin: enrolment, verification, backup codes."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin

from core.otp.services import otp_backup_codes_renew
from tests import factories

pytestmark = pytest.mark.django_db

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADMIN = "/admin/"
VERIFY = "/admin/accesso/verifica/"
ENROL = "/admin/accesso/attivazione/"
SECURITY = "/admin/accesso/sicurezza/"
BACKUP_CODES = "/admin/accesso/codici-di-emergenza/"


@pytest.fixture
def otp_required(settings):
    settings.OTP_REQUIRED = True


@pytest.fixture
def staff():
    return factories.user(username="sportello", is_staff=True)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def wrong_code(device: TOTPDevice) -> str:
    # The device accepts the codes of the previous and next 30 seconds too.
    valid = {
        f"{totp(device.bin_key, step=device.step, digits=device.digits, drift=d):06d}"
        for d in (-1, 0, 1)
    }
    return next(code for code in ("000000", "111111", "123456", "654321") if code not in valid)


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="App", confirmed=True)


# --- enrolment ---------------------------------------------------------------------------


def test_staff_without_an_authenticator_is_sent_to_enrolment_before_any_admin_page(
    otp_required, staff_client
):
    response = staff_client.get("/admin/vouchers/initiative/?q=x")
    assert response.status_code == 302
    assert response["Location"] == f"{ENROL}?next=%2Fadmin%2Fvouchers%2Finitiative%2F%3Fq%3Dx"
    assert staff_client.post("/admin/vouchers/initiative/").status_code == 302


def test_enrolment_page_shows_a_qr_as_inline_svg_the_secret_and_a_labelled_code_field(
    otp_required, staff_client, staff
):
    page = staff_client.get(ENROL).content.decode()
    device = TOTPDevice.objects.get(user=staff)
    assert not device.confirmed
    assert "<svg" in page
    assert "<script>" not in page.split('id="otp-qr"')[1].split("</figure>")[0]
    secret = device.config_url.split("secret=")[1].split("&")[0]
    assert secret[:4] + " " + secret[4:8] in page
    assert '<label for="id_code"' in page
    assert "Codice a 6 cifre mostrato dall" in page
    # Reloading keeps the same secret: whoever scanned it can still confirm.
    staff_client.get(ENROL)
    assert list(TOTPDevice.objects.filter(user=staff)) == [device]
    assert "otpauth://totp/BuonoComune%3Asportello?" in device.config_url


def test_enrolment_with_a_wrong_code_fails_with_a_form_error_and_confirms_nothing(
    otp_required, staff_client, staff
):
    staff_client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)
    response = staff_client.post(ENROL, {"code": wrong_code(device), "next": ADMIN})
    assert response.status_code == 200
    assert "Codice non valido" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert staff_client.get(ADMIN).status_code == 302


def test_enrolment_refuses_a_code_that_is_not_six_digits(otp_required, staff_client, staff):
    staff_client.get(ENROL)
    response = staff_client.post(ENROL, {"code": "12ab"})
    assert "Il codice è fatto di 6 cifre" in response.content.decode()
    assert TOTPDevice.objects.get(user=staff).throttling_failure_count == 0


def test_enrolment_with_the_right_code_confirms_shows_ten_backup_codes_and_lets_him_in(
    otp_required, staff_client, staff
):
    staff_client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)
    response = staff_client.post(ENROL, {"code": current_code(device), "next": "/admin/core/"})
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    tokens = list(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    assert len(tokens) == 10
    page = response.content.decode()
    assert all(token in page for token in tokens)
    assert 'href="/admin/core/"' in page
    assert staff_client.get(ADMIN).status_code == 200


# --- verification ------------------------------------------------------------------------


def test_next_sign_in_asks_for_the_code_and_continues_to_the_page_wanted(
    otp_required, staff_client, staff
):
    device = enrolled(staff)
    response = staff_client.get("/admin/core/fund/")
    assert response["Location"] == f"{VERIFY}?next=%2Fadmin%2Fcore%2Ffund%2F"
    page = staff_client.get(response["Location"]).content.decode()
    assert '<label for="id_code"' in page
    assert "Codice di verifica" in page
    done = staff_client.post(VERIFY, {"code": current_code(device), "next": "/admin/core/fund/"})
    assert done.status_code == 302
    assert done["Location"] == "/admin/core/fund/"
    assert staff_client.get(ADMIN).status_code == 200


def test_a_wrong_code_is_refused_with_a_form_error_and_leaves_him_outside(
    otp_required, staff_client, staff
):
    device = enrolled(staff)
    response = staff_client.post(VERIFY, {"code": wrong_code(device), "next": ADMIN})
    assert response.status_code == 200
    assert "Codice non valido" in response.content.decode()
    assert staff_client.get(ADMIN).status_code == 302


def test_repeated_wrong_codes_are_throttled_even_the_right_one_then(
    otp_required, staff_client, staff
):
    device = enrolled(staff)
    staff_client.post(VERIFY, {"code": wrong_code(device)})
    throttled = staff_client.post(VERIFY, {"code": current_code(device)})
    assert "Troppi codici sbagliati" in throttled.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert staff_client.get(ADMIN).status_code == 302


def test_a_used_code_cannot_be_replayed_in_another_session(otp_required, staff):
    device = enrolled(staff)
    code = current_code(device)
    first, second = Client(), Client()
    first.force_login(staff)
    second.force_login(staff)
    assert first.post(VERIFY, {"code": code})["Location"] == ADMIN
    assert "Codice non valido" in second.post(VERIFY, {"code": code}).content.decode()


def test_an_outside_next_is_ignored(otp_required, staff_client, staff):
    device = enrolled(staff)
    response = staff_client.post(
        VERIFY, {"code": current_code(device), "next": "https://elsewhere.example/admin/"}
    )
    assert response["Location"] == ADMIN


def test_a_backup_code_works_once_only(otp_required, staff):
    enrolled(staff)
    code = otp_backup_codes_renew(user=staff)[0]
    first = Client()
    first.force_login(staff)
    response = first.post(VERIFY, {"code": code.upper()[:4] + " " + code[4:], "next": ADMIN})
    assert response["Location"] == ADMIN
    assert first.get(ADMIN).status_code == 200
    assert StaticToken.objects.filter(device__user=staff).count() == 9
    again = Client()
    again.force_login(staff)
    refused = again.post(VERIFY, {"code": code})
    assert "Codice non valido" in refused.content.decode()
    assert again.get(ADMIN).status_code == 302


def test_logout_stays_reachable_before_verification(otp_required, staff_client, staff):
    enrolled(staff)
    response = staff_client.post("/admin/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" not in staff_client.session


# --- where two factors are not required --------------------------------------------------


def test_when_not_required_staff_without_authenticator_enter_and_may_enrol(staff_client):
    assert staff_client.get(ADMIN).status_code == 200
    page = staff_client.get(SECURITY).content.decode()
    assert "non è attiva" in page
    assert f"{ENROL}?next={SECURITY}" in page
    assert "Verifica in due passaggi" in staff_client.get(ADMIN).content.decode()


def test_when_not_required_an_enrolled_staff_is_still_asked_for_the_code(staff):
    device = enrolled(staff)
    client = Client()
    client.force_login(staff)
    assert client.get(ADMIN)["Location"].startswith(VERIFY)
    client.post(VERIFY, {"code": current_code(device)})
    assert client.get(ADMIN).status_code == 200


def test_renewing_backup_codes_replaces_the_old_ones(staff_client, staff):
    device = enrolled(staff)
    old = otp_backup_codes_renew(user=staff)
    staff_client.post(VERIFY, {"code": current_code(device)})
    assert ">10<" in staff_client.get(SECURITY).content.decode()
    page = staff_client.post(BACKUP_CODES).content.decode()
    new = list(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    assert len(new) == 10
    assert not set(old) & set(new)
    assert all(token in page for token in new)


# --- beneficiaries, shops and the API are never asked --------------------------------------


def test_pwa_and_till_are_not_affected(otp_required, staff_client):
    assert staff_client.get("/").status_code == 200
    shop = factories.merchant()
    cashier = factories.cashier(shop=shop)
    till = Client()
    response = till.post("/cassa/accesso/", {"username": cashier.username, "password": "password"})
    assert response["Location"] == "/cassa/"
    assert till.get("/cassa/").status_code == 200


def test_device_key_api_is_not_affected(otp_required, circuit, till_client):
    response = till_client.post(
        "/api/v1/redemptions/",
        {"code": circuit["voucher"].code, "amount": "10.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="otp-1",
    )
    assert response.status_code == 201, response.content


def test_non_staff_user_at_the_admin_is_sent_to_login_not_to_enrolment(otp_required):
    client = Client()
    client.force_login(factories.user())
    response = client.get(ADMIN)
    assert response["Location"].startswith("/admin/login/")
    assert client.get(ENROL)["Location"].startswith("/admin/login/")


# --- a lost phone --------------------------------------------------------------------------


def test_otp_reset_command_removes_devices_and_the_next_visit_enrols_again(
    otp_required, staff_client, staff
):
    device = enrolled(staff)
    otp_backup_codes_renew(user=staff)
    staff_client.post(VERIFY, {"code": current_code(device)})
    assert staff_client.get(ADMIN).status_code == 200
    out = StringIO()
    call_command("otp_reset", "sportello", stdout=out)
    assert "azzerata" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert staff_client.get(ADMIN)["Location"].startswith(ENROL)


def test_otp_reset_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="inesistente"):
        call_command("otp_reset", "nessuno")


def test_authenticators_admin_is_for_superusers_only_and_resets_a_lost_phone(staff):
    enrolled(staff)
    codes = otp_backup_codes_renew(user=staff)
    url = "/admin/otp_totp/totpdevice/"
    staff_client = Client()
    staff_client.force_login(staff)
    staff_client.post(VERIFY, {"code": current_code(TOTPDevice.objects.get(user=staff))})
    assert staff_client.get(url).status_code == 403
    boss = Client()
    boss.force_login(factories.user(is_staff=True, is_superuser=True))
    page = boss.get(url).content.decode()
    assert "sportello" in page
    assert TOTPDevice.objects.get(user=staff).key not in page
    pk = TOTPDevice.objects.get(user=staff).pk
    assert boss.get(f"{url}{pk}/change/").status_code == 200
    assert boss.get(f"{url}{pk}/history/").status_code == 200
    backup_page = boss.get("/admin/otp_static/staticdevice/").content.decode()
    assert "sportello" in backup_page
    assert not any(code in backup_page for code in codes)
    assert isinstance(admin.site._registry[StaticDevice], ModelAdmin)
    response = boss.post(
        url,
        {
            "action": "reset_two_factor",
            "_selected_action": [TOTPDevice.objects.get(user=staff).pk],
        },
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()


# --- production -------------------------------------------------------------------------


def test_production_requires_two_factors_and_check_deploy_stays_clean():
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "DATABASE_URL",
            "OTP_REQUIRED",
            "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests for themselves
        }
        and not key.startswith("PYTEST")
    }
    environment.update(
        BUONOCOMUNE_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="s-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
        ALLOWED_HOSTS="buonocomune.example.org",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    run = {"cwd": PROJECT_ROOT, "env": environment, "capture_output": True, "text": True}
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        timeout=120,
        **run,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout
    required = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; django.setup(); "
            "print(settings.OTP_REQUIRED)",
        ],
        timeout=60,
        **run,
    )
    assert required.stdout.strip() == "True", required.stderr


@pytest.mark.django_db
def test_logging_in_from_the_bare_login_page_lands_on_the_admin(client):
    from tests import factories

    person = factories.user(is_staff=True)
    person.set_password("una-password-lunga-2026")
    person.save()
    response = client.post(
        "/admin/login/", {"username": person.username, "password": "una-password-lunga-2026"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
