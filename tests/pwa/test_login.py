"""Beneficiaries' logins tell nothing about who is registered, and cannot be flooded."""

import io
import re
import smtplib

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.test import Client
from django.urls import reverse

from merchants.models import Merchant
from tests import factories
from tests.vouchers.test_programme import fiscal_code as valid_fiscal_code
from vouchers.models import LoginLink
from vouchers.services.access import (
    LINK_REQUESTS_PER_EMAIL,
    LINK_REQUESTS_PER_IP,
    MAX_FAILURES,
    access_code_issue,
)

pytestmark = pytest.mark.django_db

UNKNOWN_FISCAL_CODE = "BNCLCU80A41H501V"
UNKNOWN_EMAIL = "nessuno@example.org"


def masked(response, *typed: str) -> str:
    """The page without what differs between two answers by design: the CSRF token and
    what the person typed."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    for value in typed:
        page = page.replace(value, "…")
    return page


@pytest.fixture
def hasher_runs(monkeypatch):
    """How many times the password hasher compared a code."""
    runs = []
    verify = MD5PasswordHasher.verify

    def counted(self, password, encoded):
        runs.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counted)
    return runs


def code_login(client, fiscal_code: str, code: str, ip: str = "192.0.2.1"):
    return client.post(
        reverse("webapp:login"),
        {"code-fiscal_code": fiscal_code, "code-access_code": code},
        REMOTE_ADDR=ip,
    )


def test_known_and_unknown_fiscal_codes_get_the_same_answers_and_the_same_hashing(hasher_runs):
    holder = factories.beneficiary()
    access_code_issue(beneficiary=holder)
    answers = {}
    for fiscal_code in (holder.fiscal_code, UNKNOWN_FISCAL_CODE):
        hasher_runs.clear()
        client = Client()
        answers[fiscal_code] = [
            code_login(client, fiscal_code, "WRONG-CODE-0000") for _attempt in range(MAX_FAILURES)
        ]
        # The hasher compared every attempt, with a code on file or not.
        assert len(hasher_runs) == MAX_FAILURES
        answers[fiscal_code].append(code_login(client, fiscal_code, "WRONG-CODE-0000"))

    known, unknown = answers[holder.fiscal_code], answers[UNKNOWN_FISCAL_CODE]
    for mine, theirs in zip(known, unknown, strict=True):
        assert mine.status_code == theirs.status_code
        assert masked(mine, holder.fiscal_code) == masked(theirs, UNKNOWN_FISCAL_CODE)
    assert "non corretti" in known[0].content.decode()
    # Both are locked at the fifth failure, and stay locked.
    assert [r.status_code for r in unknown] == [200] * (MAX_FAILURES - 1) + [429, 429]
    assert "Troppi tentativi" in unknown[-1].content.decode()


def test_a_fiscal_code_is_locked_only_from_the_address_that_failed():
    holder = factories.beneficiary()
    code = access_code_issue(beneficiary=holder)
    attacker = Client()
    for _attempt in range(MAX_FAILURES):
        code_login(attacker, holder.fiscal_code, "WRONG-CODE-0000", ip="203.0.113.7")
    assert code_login(attacker, holder.fiscal_code, code, ip="203.0.113.7").status_code == 429

    own_phone = Client()
    response = code_login(own_phone, holder.fiscal_code, code, ip="198.51.100.20")
    assert response.status_code == 302
    holder.refresh_from_db()
    assert own_phone.session["_auth_user_id"] == str(holder.user_id)


def test_a_login_with_the_right_code_starts_the_count_again():
    holder = factories.beneficiary()
    code = access_code_issue(beneficiary=holder)
    client = Client()
    for _attempt in range(MAX_FAILURES - 1):
        code_login(client, holder.fiscal_code, "WRONG-CODE-0000")
    assert code_login(client, holder.fiscal_code, code).status_code == 302
    client.logout()
    for _attempt in range(MAX_FAILURES - 1):
        code_login(client, holder.fiscal_code, "WRONG-CODE-0000")
    assert code_login(client, holder.fiscal_code, code).status_code == 302


def link_request(client, email: str, ip: str = "192.0.2.1"):
    return client.post(reverse("webapp:login"), {"link-email": email}, REMOTE_ADDR=ip)


def test_a_link_request_gets_the_same_page_whoever_has_the_address(
    mailoutbox, django_capture_on_commit_callbacks
):
    holder = factories.beneficiary(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True) as known_callbacks:
        known = link_request(Client(), "anna@example.org")
    with django_capture_on_commit_callbacks(execute=True) as unknown_callbacks:
        unknown = link_request(Client(), UNKNOWN_EMAIL)

    assert known.status_code == unknown.status_code == 200
    assert masked(known, "anna@example.org") == masked(unknown, UNKNOWN_EMAIL)
    assert "ti abbiamo inviato un link" in known.content.decode()
    # The page only queues the work, the same for both; the mail goes in the background.
    assert len(known_callbacks) == len(unknown_callbacks) == 1
    assert [m.to for m in mailoutbox] == [["anna@example.org"]]
    assert LoginLink.objects.filter(beneficiary=holder).count() == 1


class MailServerDown(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPConnectError(421, "Service not available")


def test_a_mail_server_that_is_down_shows_the_same_page_not_an_error(
    settings, django_capture_on_commit_callbacks, caplog
):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.MailServerDown"}}
    factories.beneficiary(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        known = link_request(Client(), "anna@example.org")
    unknown = link_request(Client(), UNKNOWN_EMAIL)

    assert known.status_code == 200
    assert masked(known, "anna@example.org") == masked(unknown, UNKNOWN_EMAIL)
    assert "Could not send a login link" in caplog.text


def test_link_requests_are_limited_per_email_address_and_per_client_address(
    mailoutbox, django_capture_on_commit_callbacks
):
    factories.beneficiary(email="anna@example.org")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            link_request(client, "anna@example.org", ip=f"192.0.2.{n}")
            for n in range(LINK_REQUESTS_PER_EMAIL + 1)
        ]
    assert [a.status_code for a in answers] == [200] * LINK_REQUESTS_PER_EMAIL + [429]
    assert "Troppe richieste" in answers[-1].content.decode()
    assert len(mailoutbox) == LINK_REQUESTS_PER_EMAIL
    # An unknown address is limited the same way: the limit tells nothing either.
    unknown = [link_request(client, UNKNOWN_EMAIL) for _n in range(LINK_REQUESTS_PER_EMAIL + 1)]
    assert [a.status_code for a in unknown] == [200] * LINK_REQUESTS_PER_EMAIL + [429]

    cache.clear()
    flood = [
        link_request(client, f"persona{n}@example.org", ip="203.0.113.7")
        for n in range(LINK_REQUESTS_PER_IP + 1)
    ]
    assert [a.status_code for a in flood] == [200] * LINK_REQUESTS_PER_IP + [429]
    assert link_request(client, "persona1000@example.org", ip="198.51.100.20").status_code == 200


def test_the_link_printed_by_the_console_backend_opens_as_shown(
    mailoutbox, django_capture_on_commit_callbacks
):
    voucher = factories.voucher()
    voucher.beneficiary.email = "anna@example.org"
    voucher.beneficiary.save()
    with django_capture_on_commit_callbacks(execute=True):  # as under `make run`
        Client().post(
            reverse("webapp:login"), {"link-email": "anna@example.org"}, HTTP_HOST="127.0.0.1:8000"
        )
    printed = io.StringIO()
    ConsoleBackend(stream=printed).send_messages(mailoutbox)
    text = printed.getvalue()

    assert "quoted-printable" not in text and "=3D" not in text
    lines = [line for line in text.splitlines() if "/accesso/link/" in line]
    assert len(lines) == 1
    link = lines[0].strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/accesso/link/[A-Za-z0-9_-]{43}/", link)
    client = Client()
    assert client.post(link.removeprefix("http://127.0.0.1:8000")).status_code == 302
    page = client.get(reverse("webapp:my-vouchers")).content.decode()
    assert voucher.initiative.title in page


def accreditation_form(n: int) -> dict:
    return {
        "name": f"Forno {n}",
        "vat_number": factories.vat_number(),
        "iban": "IT60 X054 2811 1010 0000 0123 456",
        "street": "Via Roma 3",
        "postal_code": "24100",
        "town": "Bergamo",
        "email": f"forno{n}@example.org",
        "categories": [factories.category().pk],
        "municipalities": [factories.municipality().pk],
        "privacy": "on",
    }


def test_accreditation_requests_are_limited_per_client_address():
    from pwa.accreditation import ACCREDITATION_REQUESTS_PER_IP

    client = Client()
    answers = [
        client.post(
            reverse("webapp:accreditation"), accreditation_form(n), REMOTE_ADDR="203.0.113.7"
        )
        for n in range(ACCREDITATION_REQUESTS_PER_IP + 1)
    ]
    assert [a.status_code for a in answers] == [200] * ACCREDITATION_REQUESTS_PER_IP + [429]
    assert "Troppe richieste" in answers[-1].content.decode()
    assert Merchant.objects.count() == ACCREDITATION_REQUESTS_PER_IP
    other = client.post(
        reverse("webapp:accreditation"), accreditation_form(99), REMOTE_ADDR="198.51.100.20"
    )
    assert other.status_code == 200
    assert Merchant.objects.count() == ACCREDITATION_REQUESTS_PER_IP + 1


def test_an_address_trying_many_fiscal_codes_is_stopped_whatever_they_are():
    from vouchers.services.access import MAX_FAILURES_PER_IP

    holder = factories.beneficiary()
    code = access_code_issue(beneficiary=holder)
    client = Client()
    tried = [valid_fiscal_code(n)[0] for n in range(MAX_FAILURES_PER_IP)]
    answers = [
        code_login(client, tried_code, "WRONG-CODE-0000", ip="203.0.113.7") for tried_code in tried
    ]
    assert {a.status_code for a in answers} == {200}
    # The next one is refused before any check, even for a person with the right code.
    refused = code_login(client, holder.fiscal_code, code, ip="203.0.113.7")
    assert refused.status_code == 429 and "Troppi tentativi" in refused.content.decode()
    assert code_login(Client(), holder.fiscal_code, code, ip="198.51.100.20").status_code == 302
