"""Amounts typed the Italian way in the browser: the app's apply form reads «8500,00» as
eight thousand five hundred euros, and refuses an ambiguous one on the page."""

from decimal import Decimal

import pytest

from tests import factories
from tests.vouchers.test_programme import fiscal_code, open_call
from vouchers.models import Application
from vouchers.services.access import access_code_issue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def applicant(transactional_db):
    initiative = open_call()
    code, birth, sex = fiscal_code(7)
    holder = factories.beneficiary(fiscal_code=code, municipality=initiative.municipalities.get())
    return initiative, holder, birth, sex, access_code_issue(beneficiary=holder)


def fill_application(page, base_url: str, applicant, isee: str) -> None:
    initiative, holder, birth, sex, code = applicant
    page.goto(f"{base_url}/accesso/")
    page.get_by_role("textbox", name="Codice fiscale").fill(holder.fiscal_code)
    page.get_by_role("textbox", name="Codice di accesso").fill(code)
    page.get_by_role("button", name="Entra", exact=True).click()
    page.wait_for_url(f"{base_url}/buoni/")
    page.goto(f"{base_url}/bandi/{initiative.pk}/domanda/")
    page.locator("#id_birth_date").fill(birth.isoformat())
    page.locator("#id_sex").select_option(sex)
    page.locator("#id_municipality").select_option(str(initiative.municipalities.get().pk))
    page.locator("#id_street").fill("Via Verdi 1")
    page.locator("#id_postal_code").fill("24100")
    page.get_by_label("Valore ISEE in euro").press_sequentially(isee)
    page.get_by_role("button", name="Invia la domanda").click()


def test_an_isee_typed_as_8500_comma_00_is_stored_as_8500_euros(
    live_server, launch_browser, applicant
):
    page = launch_browser(locale="it-IT").new_page()
    fill_application(page, live_server.url, applicant, "8500,00")
    page.wait_for_url(f"{live_server.url}/domande/**")
    assert Application.objects.get().isee == Decimal("8500.00")


def test_an_ambiguous_isee_is_shown_as_an_error_on_the_page(live_server, launch_browser, applicant):
    page = launch_browser(locale="it-IT").new_page()
    fill_application(page, live_server.url, applicant, "8,500")
    assert page.get_by_role("alert").filter(has_text="si può leggere in due modi").is_visible()
    assert not Application.objects.exists()
