"""Outcome SMS through a real HTTP provider, with delivery receipts and the letter fallback.

The provider is played by a local HTTP server speaking the REST API v1.0 of Skebby / Aruba
SMS / Mobyt: it takes a message and answers with its order id, then answers the state of that
order (delivered, failed, or not known yet) as the test decides.
"""

import json
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Role
from tests import factories
from tests.vouchers.test_admin_programme import logged_in, staff
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Notification
from vouchers.services.applications import application_approve, application_submit
from vouchers.services.initiatives import initiative_close
from vouchers.services.notifications import initiative_notify_outcomes, sms_receipts_check
from vouchers.services.outcome_letters import outcome_letters_print
from vouchers.services.ranking import initiative_rank
from vouchers.sms import international_number

pytestmark = pytest.mark.django_db

PROJECT_ROOT = Path(__file__).resolve().parents[2]
USER_KEY, ACCESS_TOKEN = "USERKEY123", "TOKEN456"


class Provider:
    """What the fake provider received and what it will answer."""

    def __init__(self):
        self.sent: list[dict] = []
        self.headers: list[dict] = []
        self.states: dict[str, str] = {}
        self.refuse_with: int | None = None


@pytest.fixture
def provider(settings):
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if (self.headers.get("user_key"), self.headers.get("Access_token")) != (
                USER_KEY,
                ACCESS_TOKEN,
            ):
                self._answer(401, {"error": "unauthorized"})
                return False
            return True

        def do_POST(self):
            if not self._authorised():
                return
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length))
            if self.path != "/API/v1.0/REST/sms":
                return self._answer(404, {})
            if state.refuse_with:
                return self._answer(state.refuse_with, {"error": "Invalid recipient"})
            state.sent.append(payload)
            state.headers.append(dict(self.headers))
            order_id = f"ORD{len(state.sent)}"
            state.states[order_id] = "WAITING"
            self._answer(
                201,
                {"result": "OK", "order_id": order_id, "total_sent": 1, "internal_order_id": "x"},
            )

        def do_GET(self):
            if not self._authorised():
                return
            prefix = "/API/v1.0/REST/sms/"
            order_id = self.path.removeprefix(prefix)
            if not self.path.startswith(prefix) or order_id not in state.states:
                return self._answer(404, {"error": "order not found"})
            self._answer(
                200,
                {
                    "recipient_number": 1,
                    "result": "OK",
                    "recipients": [
                        {"destination": "+393331234567", "status": state.states[order_id]}
                    ],
                },
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "vouchers.sms.SkebbySmsBackend"
    settings.SMS_ENABLED = True
    settings.SMS_API_URL = f"http://127.0.0.1:{server.server_port}/API/v1.0/REST/"
    settings.SMS_USER_KEY, settings.SMS_ACCESS_TOKEN = USER_KEY, ACCESS_TOKEN
    settings.SMS_SENDER = "ComuneProva"
    yield state
    server.shutdown()
    server.server_close()


def funded_by_sms(django_capture_on_commit_callbacks, n: int = 1) -> list[Notification]:
    """A ranked call whose ``n`` funded applicants left only a phone; their outcomes sent."""
    initiative = open_call()
    for index in range(1, n + 1):
        application = application_submit(
            initiative=initiative,
            data=applicant(initiative, index, phone=f"333 123456{index}", street="Via Roma 1"),
            channel="desk",
        )
        application_approve(application=application, reason="ok", by=factories.user())
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        counts = initiative_notify_outcomes(initiative=initiative)
    assert counts["sms"] == n
    return list(Notification.objects.order_by("pk"))


def test_an_outcome_sms_goes_to_the_provider_and_its_receipt_marks_it_delivered(
    provider, django_capture_on_commit_callbacks
):
    [notification] = funded_by_sms(django_capture_on_commit_callbacks)
    assert len(provider.sent) == 1
    sent = provider.sent[0]
    assert sent["recipient"] == ["+393331234561"]
    assert sent["sender"] == "ComuneProva" and sent["message_type"] == "GP"
    assert "ammessa e finanziata" in sent["message"]
    notification.refresh_from_db()
    assert (notification.status, notification.provider_id) == ("sent", "ORD1")

    # No receipt yet: it waits.
    assert sms_receipts_check() == {"delivered": 0, "undelivered": 0, "waiting": 1}
    provider.states["ORD1"] = "DLVRD"
    assert sms_receipts_check() == {"delivered": 1, "undelivered": 0, "waiting": 0}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    assert notification.get_status_display() == "Consegnata" and notification.delivered_at
    # Asked again, nothing changes.
    assert sms_receipts_check() == {"delivered": 0, "undelivered": 0, "waiting": 0}


def test_an_sms_the_provider_did_not_deliver_becomes_a_letter_staff_see_and_print(
    provider, django_capture_on_commit_callbacks, client
):
    [notification] = funded_by_sms(django_capture_on_commit_callbacks)
    provider.states["ORD1"] = "UNKNRCPT"
    assert sms_receipts_check()["undelivered"] == 1
    notification.refresh_from_db()
    assert (notification.channel, notification.status) == ("letter", "to_print")
    assert notification.error == (
        "SMS a 333 1234561 non consegnato (UNKNRCPT): lettera da stampare."
    )

    initiative = notification.application.initiative
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    logged_in(client, manager)
    listing = client.get(reverse("admin:vouchers_notification_changelist")).content.decode()
    rows = re.findall(r"<tr[^>]*>.*?</tr>", listing, flags=re.S)
    [row] = [row for row in rows if notification.application.protocol_number in row]
    assert re.search(r">\s*Da stampare\s*<", row) and "Lettera stampata" in row
    assert not re.search(r">\s*Inviata\s*<", row)
    detail = client.get(
        reverse("admin:vouchers_notification_change", args=[notification.pk])
    ).content.decode()
    assert "non consegnato (UNKNRCPT)" in detail

    letters = client.post(
        reverse("admin:vouchers_initiative_letters_detail", args=[initiative.pk]),
        {"confirm": "yes"},
    )
    assert letters.status_code == 200 and letters["Content-Type"] == "application/pdf"
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PRINTED


def test_the_letters_page_says_which_letters_it_prints_and_marks_those_in_place_of_an_sms(
    provider, django_capture_on_commit_callbacks, client
):
    initiative = open_call()
    by_phone, by_post = (
        application_submit(
            initiative=initiative,
            data=applicant(initiative, index, street="Via Roma 1", **contact),
            channel="desk",
        )
        for index, contact in ((1, {"phone": "333 1234561"}), (2, {}))
    )
    for application in (by_phone, by_post):
        application_approve(application=application, reason="ok", by=factories.user())
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        assert initiative_notify_outcomes(initiative=initiative) == {
            "email": 0,
            "sms": 1,
            "letter": 1,
        }
    provider.states["ORD1"] = "UNKNRCPT"
    sms_receipts_check()

    logged_in(client, staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get()))
    response = client.get(reverse("admin:vouchers_initiative_letters_detail", args=[initiative.pk]))
    page = " ".join(response.content.decode().split())
    assert "senza e-mail né telefono" not in page
    assert "chi non ha indicato né e-mail né un telefono" in page
    assert "il cui SMS non è stato consegnato" in page
    summary = dict(response.context["summary"])
    assert summary["Da stampare"] == 2
    assert summary["Da stampare perché l'SMS non è stato consegnato"] == 1
    rows = response.context["table"]["rows"]
    assert rows == [
        [
            by_phone.protocol_number,
            by_phone.applicant.full_name,
            "SMS a 333 1234561 non consegnato (UNKNRCPT): lettera da stampare.",
        ]
    ]
    assert by_post.protocol_number not in str(rows)


def test_an_sms_the_provider_refuses_is_a_letter_at_once(
    provider, django_capture_on_commit_callbacks
):
    provider.refuse_with = 400
    [notification] = funded_by_sms(django_capture_on_commit_callbacks)
    assert provider.sent == []
    notification.refresh_from_db()
    assert (notification.channel, notification.status) == ("letter", "to_print")
    assert "SMS a 333 1234561 non consegnato" in notification.error
    assert "400" in notification.error
    assert outcome_letters_print(notifications=[notification]).startswith(b"%PDF")


def test_an_unreachable_provider_or_wrong_keys_give_a_letter_too(
    provider, settings, django_capture_on_commit_callbacks
):
    settings.SMS_ACCESS_TOKEN = "wrong"
    [notification] = funded_by_sms(django_capture_on_commit_callbacks)
    notification.refresh_from_db()
    assert notification.status == "to_print" and "401" in notification.error


def test_an_sms_without_a_receipt_for_too_long_gets_a_letter(
    provider, settings, django_capture_on_commit_callbacks
):
    settings.SMS_RECEIPT_WAIT_HOURS = 48
    first, second = funded_by_sms(django_capture_on_commit_callbacks, n=2)
    Notification.objects.filter(pk=first.pk).update(sent_at=timezone.now() - timedelta(hours=49))
    assert sms_receipts_check() == {"delivered": 0, "undelivered": 1, "waiting": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "to_print" and "nessuna conferma di consegna in 48 ore" in first.error
    assert second.status == "sent"


@pytest.mark.parametrize(
    "backend", ["vouchers.sms.ConsoleSmsBackend", "vouchers.sms.LocmemSmsBackend"]
)
def test_an_sms_given_to_a_development_backend_says_it_reached_only_the_log(
    backend, settings, django_capture_on_commit_callbacks, client
):
    settings.SMS_BACKEND, settings.SMS_ENABLED = backend, True
    [notification] = funded_by_sms(django_capture_on_commit_callbacks)
    notification.refresh_from_db()
    assert notification.status == "logged"
    label = "Scritta solo nel registro (ambiente di prova)"
    assert notification.get_status_display() == label

    manager = staff(Role.PROGRAMME_MANAGER, notification.application.municipality)
    logged_in(client, manager)
    listing = client.get(reverse("admin:vouchers_notification_changelist")).content.decode()
    rows = re.findall(r"<tr[^>]*>.*?</tr>", listing, flags=re.S)
    [row] = [row for row in rows if notification.application.protocol_number in row]
    assert label in row and not re.search(r">\s*Inviata\s*<", row)

    # Nothing to wait for: no receipt will come, and no letter is made in its place.
    assert sms_receipts_check() == {"delivered": 0, "undelivered": 0, "waiting": 0}
    notification.refresh_from_db()
    assert (notification.channel, notification.status) == ("sms", "logged")


def test_with_sms_disabled_a_phone_only_applicant_gets_a_letter(
    settings, django_capture_on_commit_callbacks
):
    settings.SMS_ENABLED = False
    initiative = open_call()
    application = application_submit(
        initiative=initiative,
        data=applicant(initiative, 1, phone="333 1234567"),
        channel="desk",
    )
    application_approve(application=application, reason="ok", by=factories.user())
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        assert initiative_notify_outcomes(initiative=initiative)["letter"] == 1


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("333 1234567", "+393331234567"),
        ("+39 333 123 4567", "+393331234567"),
        ("0039-333-1234567", "+393331234567"),
    ],
)
def test_numbers_are_sent_in_international_form(number, expected):
    assert international_number(number) == expected


def run_deploy_check(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "SMS_"))
        and key not in {"DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(
        BUONOCOMUNE_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="buonocomune.example.org",
        DATABASE_URL="sqlite:///:memory:",
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"SMS_BACKEND": "vouchers.sms.ConsoleSmsBackend"},
        {"SMS_BACKEND": "vouchers.sms.LocmemSmsBackend"},
        {"SMS_ENABLED": "true"},
    ],
)
def test_production_refuses_to_start_with_sms_enabled_and_no_real_provider(env):
    result = run_deploy_check(**env)
    assert result.returncode != 0
    assert "SMS_BACKEND must be a real SMS provider in production" in result.stderr


def test_production_starts_with_the_provider_configured_or_with_sms_off():
    missing_keys = run_deploy_check(SMS_BACKEND="vouchers.sms.SkebbySmsBackend")
    assert missing_keys.returncode != 0 and "SMS_USER_KEY and SMS_ACCESS_TOKEN" in (
        missing_keys.stderr
    )
    configured = run_deploy_check(
        SMS_BACKEND="vouchers.sms.SkebbySmsBackend",
        SMS_USER_KEY=USER_KEY,
        SMS_ACCESS_TOKEN=ACCESS_TOKEN,
    )
    assert configured.returncode == 0, configured.stderr
    assert run_deploy_check().returncode == 0  # no SMS: letters instead
