"""The desk in a real browser: an applicant over the income limit gets a protocol and a refusal."""

from decimal import Decimal

import pypdfium2
import pytest
from django.urls import reverse

from core.models import Role
from core.roles import membership_grant
from tests import factories
from tests.vouchers.test_programme import fiscal_code, open_call
from vouchers.models import Application

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_desk_registers_and_refuses_an_applicant_over_the_income_limit_with_a_receipt(
    live_server, launch_browser
):
    initiative = open_call(max_isee=Decimal("10000.00"))
    town = initiative.municipalities.get()
    desk = factories.user(is_staff=True)
    membership_grant(user=desk, organization=town, role=Role.DESK_OPERATOR)
    code, birth, sex = fiscal_code(7)

    page = launch_browser(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(desk.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    page.goto(
        f"{live_server.url}{reverse('admin:vouchers_application_add')}?initiative={initiative.pk}"
    )
    assert page.get_by_text("Indirizzo e CAP sono obbligatori").is_visible()
    page.locator('[name="fiscal_code"]').fill(code)
    page.locator('[name="first_name"]').fill("Carla")
    page.locator('[name="last_name"]').fill("Bianchi")
    page.locator('[name="birth_date"]').fill(birth.strftime("%d/%m/%Y"))
    page.locator(f'[name="sex"][value="{sex}"]').check()
    page.locator('[name="municipality"]').select_option(str(town.pk))
    page.locator('[name="street"]').fill("Via Mazzini 8")
    page.locator('[name="postal_code"]').fill("40121")
    page.locator('[name="isee"]').fill("25000,00")
    page.get_by_role("button", name="Registra la domanda").click()

    page.wait_for_selector("#intake-refusal")
    assert page.get_by_text("supera il massimo del bando").first.is_visible()
    assert not Application.objects.exists()
    page.get_by_label("Registra la domanda e respingila per mancanza dei requisiti").check()
    page.get_by_role("button", name="Registra la domanda").click()

    page.wait_for_selector("text=e respinta per mancanza dei requisiti del bando")
    application = Application.objects.get()
    assert application.status == Application.Status.REJECTED
    with page.expect_download() as download:
        page.get_by_role("link", name="Stampa la ricevuta").first.click()
    document = pypdfium2.PdfDocument(download.value.path())
    try:
        text = " ".join(document[0].get_textpage().get_text_range().split())
    finally:
        document.close()
    assert application.protocol_number in text
    assert "Carla Bianchi" in text
    assert "respinta. Motivazione: Requisiti del bando non soddisfatti" in text
