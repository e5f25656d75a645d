import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from merchants.models import Merchant
from tests import factories
from tests.vouchers.test_programme import applicant, fiscal_code, open_call
from vouchers.models import Application
from vouchers.services.access import access_code_issue, beneficiary_user
from vouchers.services.applications import (
    application_approve,
    application_request_info,
    application_submit,
)
from vouchers.services.initiatives import initiative_close
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db


def test_public_pages_render_without_login(client):
    initiative = open_call()
    shop = factories.merchant(initiative=initiative)
    for url in [
        reverse("webapp:home"),
        reverse("webapp:initiatives"),
        reverse("webapp:initiative", args=[initiative.pk]),
        reverse("webapp:privacy"),
        reverse("webapp:accreditation"),
        reverse("webapp:login"),
    ]:
        assert client.get(url).status_code == 200, url
    shops = client.get(reverse("webapp:initiative-shops", args=[initiative.pk]))
    assert shop.name in shops.content.decode()


def test_accreditation_request_creates_a_shop_awaiting_review(client):
    town = factories.municipality()
    category = factories.category(slug="alimentari")
    form = {
        "name": "Forno Bianchi",
        "vat_number": factories.vat_number(),
        "iban": "IT60 X054 2811 1010 0000 0123 456",
        "street": "Via Roma 3",
        "postal_code": "24100",
        "town": "Bergamo",
        "email": "forno@example.org",
        "categories": [category.pk],
        "municipalities": [town.pk],
        "privacy": "on",
    }
    response = client.post(reverse("webapp:accreditation"), form)
    assert response.status_code == 200
    shop = Merchant.objects.get(name="Forno Bianchi")
    assert shop.status == Merchant.Status.REQUESTED
    assert shop.iban == "IT60X0542811101000000123456"


def test_accreditation_with_wrong_iban_and_vat_shows_errors_and_creates_nothing(client):
    town = factories.municipality()
    category = factories.category(slug="alimentari")
    response = client.post(
        reverse("webapp:accreditation"),
        {
            "name": "Forno",
            "vat_number": "12345678901",
            "iban": "IT60X0542811101000000123457",
            "street": "Via Roma 3",
            "postal_code": "24100",
            "town": "Bergamo",
            "email": "forno@example.org",
            "categories": [category.pk],
            "municipalities": [town.pk],
            "privacy": "on",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Partita IVA non valida" in body and "IBAN non valido" in body
    assert not Merchant.objects.exists()


def test_login_link_logs_in_once_and_shows_the_vouchers(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    voucher = factories.voucher()
    holder = voucher.beneficiary
    holder.email = "anna@example.org"
    holder.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webapp:login"), {"link-email": "anna@example.org"})
    assert "ti abbiamo inviato un link" in response.content.decode()
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    assert client.get(path).status_code == 200  # a mail scanner opening it logs nobody in
    assert client.post(path).status_code == 302
    page = client.get(reverse("webapp:my-voucher", args=[voucher.pk])).content.decode()
    assert voucher.grouped_code in page
    assert (
        reverse("vouchers:voucher-qr", kwargs={"voucher_id": voucher.pk, "image_format": "svg"})
        in page
    )
    client.logout()
    assert client.post(path).status_code == 410


def test_unknown_email_gets_the_same_answer_and_no_mail(client, mailoutbox):
    response = client.post(reverse("webapp:login"), {"link-email": "nobody@example.org"})
    assert "ti abbiamo inviato un link" in response.content.decode()
    assert mailoutbox == []


def test_access_code_login_and_lockout_after_five_failures(client):
    holder = factories.beneficiary()
    code = access_code_issue(beneficiary=holder)
    for _attempt in range(5):
        response = client.post(
            reverse("webapp:login"),
            {"code-fiscal_code": holder.fiscal_code, "code-access_code": "WRONG-CODE-0000"},
        )
        assert "non corretti" in response.content.decode() or "Troppi" in response.content.decode()
    locked = client.post(
        reverse("webapp:login"),
        {"code-fiscal_code": holder.fiscal_code, "code-access_code": code},
    )
    assert "Troppi tentativi" in locked.content.decode()
    cache.clear()  # fifteen minutes later the counters have expired
    ok = client.post(
        reverse("webapp:login"),
        {"code-fiscal_code": holder.fiscal_code.lower(), "code-access_code": code.lower()},
    )
    assert ok.status_code == 302


def test_a_beneficiary_cannot_open_another_beneficiarys_voucher(client):
    mine = factories.voucher()
    theirs = factories.voucher()
    client.force_login(beneficiary_user(beneficiary=mine.beneficiary))
    assert client.get(reverse("webapp:my-voucher", args=[mine.pk])).status_code == 200
    assert client.get(reverse("webapp:my-voucher", args=[theirs.pk])).status_code == 404


def test_online_application_follows_the_desk_rules(client):
    initiative = open_call(declarations="Dichiaro che i dati sono veri")
    code, birth, sex = fiscal_code(7)
    holder = factories.beneficiary(fiscal_code=code, municipality=initiative.municipalities.get())
    client.force_login(beneficiary_user(beneficiary=holder))
    url = reverse("webapp:apply", args=[initiative.pk])
    form = {
        "birth_date": birth.isoformat(),
        "sex": sex,
        "municipality": initiative.municipalities.get().pk,
        "street": "Via Verdi 1",
        "postal_code": "24100",
        "isee": "4000.00",
    }
    missing = client.post(url, form)
    assert missing.status_code == 200 and not Application.objects.exists()
    response = client.post(url, {**form, "declaration_0": "on"})
    application = Application.objects.get()
    assert response.status_code == 302
    assert application.channel == Application.Channel.ONLINE
    assert application.protocol_number.endswith("/000001")


def test_answer_to_a_request_for_information_with_a_document_reopens_it(client):
    initiative = open_call()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 3), channel="online"
    )
    application_request_info(application=application, reason="Allega l'ISEE", by=factories.user())
    client.force_login(beneficiary_user(beneficiary=application.applicant))
    url = reverse("webapp:my-application", args=[application.pk])
    assert "Allega l&#x27;ISEE" in client.get(url).content.decode()
    bad = client.post(
        url, {"note": "ecco", "document": SimpleUploadedFile("x.pdf", b"MZ\x90 not a pdf")}
    )
    assert "Sono accettati solo file PDF" in bad.content.decode()
    application.refresh_from_db()
    assert application.status == Application.Status.INFO_REQUESTED
    good = client.post(
        url, {"note": "ecco", "document": SimpleUploadedFile("isee.pdf", b"%PDF-1.4 ...")}
    )
    assert good.status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert application.documents.get().content_type == "application/pdf"


def test_public_ranking_shows_protocol_numbers_only(client):
    initiative = open_call()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 4), channel="desk"
    )
    application_approve(application=application, reason="ok", by=factories.user())
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    body = client.get(reverse("webapp:initiative-ranking", args=[initiative.pk])).content.decode()
    assert application.protocol_number in body
    assert application.applicant.last_name not in body
    assert application.applicant.fiscal_code not in body
