"""In the browser, the login page's limits are told in words, the same for everybody."""

import pytest

from tests import factories
from vouchers.services.access import LINK_REQUESTS_PER_EMAIL, MAX_FAILURES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ask_for_link(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accesso/")
    page.get_by_role("textbox", name="La tua e-mail").fill(email)
    page.get_by_role("button", name="Mandami il link").click()


def test_asking_for_the_link_again_and_again_is_stopped_with_a_message(
    live_server, launch_browser, mailoutbox
):
    factories.beneficiary(email="giulia@example.org")
    page = launch_browser().new_page()
    for _request in range(LINK_REQUESTS_PER_EMAIL):
        ask_for_link(page, live_server.url, "giulia@example.org")
        page.get_by_text("ti abbiamo inviato un link").wait_for()
    ask_for_link(page, live_server.url, "giulia@example.org")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Troppe richieste" in alert.inner_text()
    assert len(mailoutbox) == LINK_REQUESTS_PER_EMAIL


def test_a_stranger_typing_an_unknown_fiscal_code_is_stopped_like_anybody(
    live_server, launch_browser
):
    page = launch_browser().new_page()
    answers = []
    for _attempt in range(MAX_FAILURES):
        page.goto(f"{live_server.url}/accesso/")
        page.get_by_role("textbox", name="Codice fiscale").fill("BNCLCU80A41H501V")
        page.get_by_role("textbox", name="Codice di accesso").fill("ABCD-EFGH-JKMN")
        page.get_by_role("button", name="Entra", exact=True).click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        answers.append(alert.inner_text())
    assert all("non corretti" in answer for answer in answers[:-1])
    assert "Troppi tentativi" in answers[-1]
