"""A beneficiary in the browser: magic link, the voucher's QR, offline reading; public pages."""

import io
import re

import pytest
from PIL import Image

from tests import factories
from tests.vouchers.test_programme import open_call
from tests.zbar import decode
from vouchers.models import Voucher
from vouchers.services.access import access_code_issue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def holder_voucher(transactional_db):
    voucher = factories.voucher()
    holder = voucher.beneficiary
    holder.email = "giulia@example.org"
    holder.save()
    factories.merchant(initiative=voucher.initiative)
    return voucher


def open_magic_link(page, base_url: str, mailoutbox) -> None:
    page.goto(f"{base_url}/accesso/")
    page.get_by_role("textbox", name="La tua e-mail").fill("giulia@example.org")
    page.get_by_role("button", name="Mandami il link").click()
    page.get_by_text("ti abbiamo inviato un link").wait_for()
    link = re.search(r"https?://\S+", mailoutbox[-1].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Entra e vedi i tuoi buoni").click()
    page.wait_for_url(f"{base_url}/buoni/")


def test_magic_link_shows_a_qr_that_decodes_to_the_voucher_code(
    live_server, launch_browser, page_errors, mailoutbox, holder_voucher, screenshot
):
    page = page_errors.watch(launch_browser().new_page())
    open_magic_link(page, live_server.url, mailoutbox)
    screenshot(page, "beneficiary-vouchers.png")
    page.get_by_role("link", name="Mostra il QR").click()
    qr = page.get_by_role("img", name="QR del buono: mostralo alla cassa")
    qr.wait_for()
    page.wait_for_function("() => document.querySelector('img.qr').complete")
    picture = Image.open(io.BytesIO(qr.screenshot())).convert("L")
    assert [s.data.decode() for s in decode(picture)] == [holder_voucher.code]
    assert page.get_by_text(holder_voucher.grouped_code).is_visible()
    screenshot(page, "beneficiary-qr.png")
    assert page_errors.errors == []


def test_voucher_page_stays_readable_offline_and_says_so(
    live_server, launch_browser, mailoutbox, holder_voucher
):
    context = launch_browser()
    page = context.new_page()
    open_magic_link(page, live_server.url, mailoutbox)
    page.wait_for_function("async () => (await navigator.serviceWorker.ready).active !== null")
    url = f"{live_server.url}/buoni/{holder_voucher.pk}/"
    page.goto(url)  # under the service worker: kept for offline reading
    page.goto(f"{live_server.url}/buoni/")
    context.set_offline(True)
    page.goto(url)
    assert page.get_by_text(holder_voucher.grouped_code).is_visible()
    assert page.get_by_text("Sei senza connessione").is_visible()


def test_access_code_login_for_people_without_email(live_server, launch_browser, holder_voucher):
    code = access_code_issue(beneficiary=holder_voucher.beneficiary)
    page = launch_browser().new_page()
    page.goto(f"{live_server.url}/accesso/")
    page.get_by_role("textbox", name="Codice fiscale").fill(holder_voucher.beneficiary.fiscal_code)
    page.get_by_role("textbox", name="Codice di accesso").fill(code)
    page.get_by_role("button", name="Entra", exact=True).click()
    page.wait_for_url(f"{live_server.url}/buoni/")
    assert page.get_by_text(holder_voucher.initiative.title).first.is_visible()


def test_start_page_is_installable(live_server, launch_browser):
    context = launch_browser()
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.wait_for_function("async () => (await navigator.serviceWorker.ready).active !== null")
    session = context.new_cdp_session(page)
    result = session.send("Page.getInstallabilityErrors")
    assert result["installabilityErrors"] == []
    manifest = page.evaluate("async () => (await fetch('/manifest.json')).json()")
    assert manifest["display"] == "standalone" and manifest["lang"] == "it-IT"


def test_every_beneficiary_and_public_page_passes_axe(
    live_server, launch_browser, axe, mailoutbox, holder_voucher, screenshot
):
    initiative = open_call(declarations="Dichiaro che i dati sono veri")
    page = launch_browser().new_page()
    public = [
        "/",
        "/bandi/",
        f"/bandi/{initiative.pk}/",
        f"/bandi/{holder_voucher.initiative_id}/negozi/",
        "/negozi/accreditamento/",
        "/privacy/",
        "/accesso/",
    ]
    problems = {}
    for path in public:
        page.goto(f"{live_server.url}{path}")
        problems[path] = axe(page)
    screenshot(page, "login.png")
    open_magic_link(page, live_server.url, mailoutbox)
    for path in [
        "/buoni/",
        f"/buoni/{holder_voucher.pk}/",
        "/domande/",
        "/rimborsi/",
        f"/bandi/{initiative.pk}/domanda/",
    ]:
        page.goto(f"{live_server.url}{path}")
        problems[path] = axe(page)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"{live_server.url}/buoni/{holder_voucher.pk}/")
    problems["320px"] = axe(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 320, "the voucher page scrolls sideways at 320 px"
    assert {path: found for path, found in problems.items() if found} == {}
    assert Voucher.objects.filter(pk=holder_voucher.pk).exists()
