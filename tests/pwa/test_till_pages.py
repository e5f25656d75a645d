"""The till's pages: login once per device, staff only, the till's markup and catalogue."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.urls import reverse

from merchants.models import Merchant, MerchantStaff
from pwa.till import till_script_messages
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN_URL = "/cassa/accesso/"
TILL_URL = "/cassa/"
NINETY_DAYS = int(timedelta(days=90).total_seconds())


@pytest.fixture
def shop():
    return factories.merchant()


def test_till_urls_are_under_cassa():
    assert reverse("webapp:till") == TILL_URL
    assert reverse("webapp:till-login") == LOGIN_URL
    assert reverse("webapp:till-logout") == "/cassa/esci/"
    assert reverse("webapp:javascript-catalog") == "/cassa/jsi18n/"


def test_login_page_labels_both_fields_in_italian(client):
    page = client.get(LOGIN_URL).content.decode()
    assert '<label for="id_username">Nome utente' in page
    assert '<label for="id_password">Password' in page
    assert 'autocomplete="current-password"' in page
    assert "Accedi alla cassa" in page


def test_cashier_logs_in_and_the_session_lasts_about_ninety_days(client, shop):
    cashier = factories.cashier(shop=shop)
    response = client.post(LOGIN_URL, {"username": cashier.username, "password": "password"})
    assert response.status_code == 302
    assert response["Location"] == TILL_URL
    assert client.session[SESSION_KEY] == str(cashier.pk)
    assert client.session.get_expiry_age() == NINETY_DAYS
    assert not client.session.get_expire_at_browser_close()


def test_shop_owner_may_use_the_till_too(client, shop):
    owner = factories.cashier(shop=shop, role=MerchantStaff.Role.OWNER)
    client.post(LOGIN_URL, {"username": owner.username, "password": "password"})
    page = client.get(TILL_URL).content.decode()
    assert shop.name in page
    assert "Titolare" in page


def test_login_refuses_a_user_who_works_for_no_shop_with_a_clear_error(client):
    stranger = factories.user()
    response = client.post(LOGIN_URL, {"username": stranger.username, "password": "password"})
    assert response.status_code == 200
    assert "non lavora per un negozio del circuito" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_refuses_a_wrong_password(client, shop):
    cashier = factories.cashier(shop=shop)
    response = client.post(LOGIN_URL, {"username": cashier.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Inserisci nome utente e password corretti" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_refuses_an_inactive_cashier(client, shop):
    cashier = factories.cashier(shop=shop)
    cashier.is_active = False
    cashier.save(update_fields=["is_active"])
    client.post(LOGIN_URL, {"username": cashier.username, "password": "password"})
    assert SESSION_KEY not in client.session


def test_login_page_sends_a_logged_in_cashier_to_the_till(client, shop):
    client.force_login(factories.cashier(shop=shop))
    response = client.get(LOGIN_URL)
    assert response.status_code == 302
    assert response["Location"] == TILL_URL


def test_till_requires_login(client):
    response = client.get(TILL_URL)
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL


def test_till_sends_someone_who_works_for_no_shop_to_the_login_with_the_reason(client):
    stranger = factories.user()
    client.force_login(stranger)
    response = client.get(TILL_URL, follow=True)
    assert response.redirect_chain == [(LOGIN_URL, 302)]
    page = response.content.decode()
    assert f"Sei collegato come {stranger.username}" in page
    assert "non lavora per un negozio del circuito" in page


def test_till_shows_the_shop_the_fields_and_the_api_it_talks_to(client, shop):
    client.force_login(factories.cashier(shop=shop))
    page = client.get(TILL_URL).content.decode()
    assert f'<h1 class="shop">{shop.name}</h1>' in page
    assert '<label for="code">Codice del buono</label>' in page
    assert '<label for="amount">Importo</label>' in page
    assert ">Conferma</button>" in page
    assert ">Riprova</button>" in page
    assert "Annulla questo utilizzo" in page
    assert "Senza connessione: i buoni non si possono incassare" in page
    assert 'data-check-url="/api/v1/vouchers/check/"' in page
    assert 'data-redemptions-url="/api/v1/redemptions/"' in page
    assert 'data-void-url="/api/v1/redemptions/0/void/"' in page
    assert 'data-scan-url="/api/v1/scan/"' in page
    assert 'src="/cassa/jsi18n/"' in page
    assert 'src="/static/js/till.js"' in page
    assert "/static/css/till.css" in page


def test_every_visit_to_the_till_pushes_the_session_expiry_forward(client, shop):
    client.force_login(factories.cashier(shop=shop))
    session = client.session
    session.set_expiry(60)
    session.save()
    client.get(TILL_URL)
    assert client.session.get_expiry_age() == NINETY_DAYS


def test_till_of_a_suspended_shop_says_it_cannot_take_vouchers(client):
    suspended = factories.merchant(status=Merchant.Status.SUSPENDED)
    client.force_login(factories.cashier(shop=suspended))
    page = client.get(TILL_URL).content.decode()
    assert "Il negozio è sospeso dal circuito" in page


def test_till_of_a_shop_awaiting_accreditation_says_so(client):
    pending = factories.merchant(status=Merchant.Status.REQUESTED)
    client.force_login(factories.cashier(shop=pending))
    page = client.get(TILL_URL).content.decode()
    assert "Il negozio non è ancora accreditato" in page


def test_logout_is_a_post_and_ends_the_session(client, shop):
    client.force_login(factories.cashier(shop=shop))
    assert client.get("/cassa/esci/").status_code == 405
    response = client.post("/cassa/esci/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert SESSION_KEY not in client.session


def test_javascript_catalogue_is_served_and_small(client):
    response = client.get("/cassa/jsi18n/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"django.gettext" in response.content
    assert len(response.content) < 20_000


def test_till_first_load_is_well_under_100_kb(client, shop):
    client.force_login(factories.cashier(shop=shop))
    page = client.get(TILL_URL).content.decode()
    assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page)
    assert "/static/js/till.js" in assets and "/cassa/jsi18n/" in assets
    total = len(page.encode())
    for url in assets:
        if url.startswith(settings.STATIC_URL) or url.startswith("/" + settings.STATIC_URL):
            path = finders.find(url.split(settings.STATIC_URL, 1)[1])
            total += Path(path).stat().st_size
        else:
            total += len(client.get(url).content)
    assert total < 60_000, f"the till's first load weighs {total} bytes"


def test_till_offers_a_photo_of_the_qr_and_knows_where_to_ask_about_a_lost_sale(client, shop):
    client.force_login(factories.cashier(shop=shop))
    page = client.get(TILL_URL).content.decode()
    assert '<label for="photo" class="button wide">Fotografa il QR</label>' in page
    assert 'type="file" id="photo"' in page
    assert 'accept="image/*" capture="environment"' in page
    # Between the camera and the typed code.
    assert page.index('id="scan-start"') < page.index('id="photo"') < page.index('id="code"')
    assert 'data-lookup-url="/api/v1/redemptions/lookup/"' in page
    assert f'data-shop="{shop.pk}"' in page


def test_the_tills_offline_page_is_public_and_says_nothing_is_charged(client):
    assert reverse("webapp:till-offline") == "/cassa/senza-rete/"
    response = client.get("/cassa/senza-rete/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "La cassa è senza connessione" in page
    assert "nulla viene addebitato" in page
    assert f'href="{TILL_URL}"' in page


def test_the_service_worker_keeps_the_tills_offline_page(client):
    worker = client.get("/serviceworker.js").content.decode()
    assert 'TILL_OFFLINE = "/cassa/senza-rete/"' in worker


def test_till_catalogue_carries_every_till_text_and_none_of_the_admins(client):
    texts = till_script_messages()
    assert "La sessione della cassa è scaduta: accedi di nuovo." in texts
    english = client.get("/cassa/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in texts:
        assert json.dumps(text) in english, f"the till's English catalogue lacks {text!r}"
    italian = client.get("/cassa/jsi18n/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Scegli tutto" not in italian and "Choose all" not in italian
    # The admin's own catalogue still has them.
    admin_catalogue = Path(settings.BASE_DIR, "locale/it/LC_MESSAGES/djangojs.po").read_text()
    assert 'msgstr "Scegli tutto (%s)"' in admin_catalogue
