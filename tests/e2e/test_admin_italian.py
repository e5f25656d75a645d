"""The admin in Italian, as staff read it: no English names, the two-box selector in Italian."""

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.vouchers.test_programme import open_call

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = re.compile(
    r"Static devices|TOTP devices|Otp_Static|Otp_Totp|Choose all|Remove all|Choose selected"
    r"|Remove selected|click to clear|Task Name|Periodic Tasks"
)
MONTHS = re.compile(
    r"\b(Gennaio|Febbraio|Marzo|Aprile|Maggio|Giugno|Luglio|Agosto|Settembre|Ottobre|Novembre"
    r"|Dicembre)\b"
)


def test_a_superuser_reads_the_admin_in_italian(live_server, launch_browser):
    staff = factories.user(is_staff=True, is_superuser=True)
    shop = factories.merchant(initiative=open_call())
    page = launch_browser(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(staff.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    # The sidebar lists every section, the two-factor ones included.
    sidebar = page.locator("body").inner_text()
    assert "Verifica in due passaggi: app di autenticazione" in sidebar
    assert "Verifica in due passaggi: codici di emergenza" in sidebar

    # The shop's categories and municipalities: Django's two-box selector.
    page.goto(f"{live_server.url}{reverse('admin:merchants_merchant_change', args=[shop.pk])}")
    choose_all = page.locator("#id_categories_add_all")
    choose_all.wait_for()
    assert re.fullmatch(r"Scegli tutto \(.+\)", choose_all.inner_text().strip())
    remove_all = page.locator("#id_categories_remove_all")
    assert re.fullmatch(r"Rimuovi tutto \(.+\)", remove_all.inner_text().strip())
    assert "fai clic per togliere il filtro" in page.content()

    pages = {
        "admin:index": [],
        "admin:merchants_merchant_change": [shop.pk],
        "admin:otp_totp_totpdevice_changelist": [],
        "admin:otp_static_staticdevice_changelist": [],
        "admin:auth_user_change": [staff.pk],
    }
    found = {}
    for name, args in pages.items():
        response = page.goto(f"{live_server.url}{reverse(name, args=args)}")
        assert response.status == 200, name
        page.wait_for_load_state("load")
        html = page.content()
        english = sorted(set(ENGLISH.findall(html)) | set(MONTHS.findall(html)))
        if english:
            found[name] = english
    assert found == {}
