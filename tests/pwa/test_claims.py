from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Application, Expense, Initiative, ReimbursementClaim
from vouchers.services.access import beneficiary_user
from vouchers.services.applications import application_approve, application_submit
from vouchers.services.initiatives import initiative_close
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def funded():
    initiative = open_call(benefit_kind=Initiative.BenefitKind.REIMBURSEMENT)
    application = application_submit(
        initiative=initiative,
        data=applicant(initiative, 1, iban=factories.VALID_IBAN),
        channel="online",
    )
    application_approve(application=application, reason="ok", by=factories.user())
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    application.refresh_from_db()
    assert application.outcome == Application.Outcome.FUNDED
    return application


def expense_form(category, *, amount="23,40", spent_on=None, receipt=None):
    return {
        "expense_0_amount": amount,
        "expense_0_spent_on": (spent_on or timezone.localdate()).isoformat(),
        "expense_0_category": category.pk,
        "expense_0_receipt": receipt or SimpleUploadedFile("scontrino.jpg", JPEG),
    }


def test_beneficiary_sends_a_claim_with_a_photo_of_the_receipt(client, funded):
    client.force_login(beneficiary_user(beneficiary=funded.applicant))
    category = funded.initiative.allowed_categories.get()
    response = client.post(reverse("webapp:claim-new", args=[funded.pk]), expense_form(category))
    assert response.status_code == 302
    expense = Expense.objects.get()
    assert str(expense.amount) == "23.40" and expense.receipt_content_type == "image/jpeg"
    page = client.get(reverse("webapp:my-claims")).content.decode()
    assert "23,40" in page and "Da esaminare" in page


def test_a_claim_outside_the_rules_is_refused_in_words_and_keeps_nothing(client, funded):
    client.force_login(beneficiary_user(beneficiary=funded.applicant))
    category = funded.initiative.allowed_categories.get()
    url = reverse("webapp:claim-new", args=[funded.pk])
    old = funded.initiative.valid_from - timedelta(days=1)
    cases = [
        (expense_form(category, spent_on=old), "fuori dal periodo"),
        (expense_form(category, amount="-3"), "L'importo non può essere negativo."),
        (
            expense_form(category, receipt=SimpleUploadedFile("x.exe", b"MZ\x90\x00")),
            "Sono accettati solo file PDF",
        ),
        (expense_form(factories.category(slug="gioielli")), "Scegli un'opzione valida"),
        ({}, "almeno una spesa"),
    ]
    for form, message in cases:
        body = client.post(url, form).content.decode()
        assert message in body.replace("&#x27;", "'"), message
    assert not ReimbursementClaim.objects.exists()


def test_another_beneficiary_cannot_claim_on_this_application(client, funded):
    stranger = factories.beneficiary()
    client.force_login(beneficiary_user(beneficiary=stranger))
    assert client.get(reverse("webapp:claim-new", args=[funded.pk])).status_code == 404
