import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


def test_staff_login_locks_after_five_wrong_passwords_even_with_the_right_one(settings):
    staff = factories.user(username="sportello", password="giusta-password-1", is_staff=True)
    client = Client()
    for _attempt in range(5):
        client.post("/admin/login/", {"username": "sportello", "password": "sbagliata"})
    locked = client.post(
        "/admin/login/", {"username": "sportello", "password": "giusta-password-1"}
    )
    assert locked.status_code == 429
    assert "Accesso bloccato" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert staff.is_staff


def test_cashier_login_is_locked_the_same_way():
    shop = factories.merchant()
    cashier = factories.cashier(shop=shop, password="cassa-password-1")
    client = Client()
    for _attempt in range(5):
        client.post("/cassa/accesso/", {"username": cashier.username, "password": "no"})
    locked = client.post(
        "/cassa/accesso/", {"username": cashier.username, "password": "cassa-password-1"}
    )
    assert locked.status_code == 429


PROXY = "10.0.0.2"  # the reverse proxy in front of the app servers, as in production
ATTACKER = "203.0.113.7"
STAFF_MEMBER = "198.51.100.20"


def through_proxy(client_address: str, spoofed: str = "") -> dict:
    """The headers the app receives when the proxy appends the client's address."""
    forwarded = f"{spoofed}, {client_address}" if spoofed else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def test_behind_the_proxy_wrong_passwords_lock_the_attackers_address_only(settings):
    from axes.models import AccessAttempt

    settings.AXES_IPWARE_PROXY_COUNT = 1  # production: one reverse proxy
    factories.user(username="sportello", password="giusta-password-1", is_staff=True)
    attacker = Client()
    for attempt in range(6):
        attacker.post(
            "/admin/login/",
            {"username": "sportello", "password": "sbagliata"},
            **through_proxy(ATTACKER, spoofed=f"192.0.2.{attempt}, 10.9.9.{attempt}"),
        )

    # The staff member, from her own address, still logs in with the right password.
    staff = Client()
    response = staff.post(
        "/admin/login/",
        {"username": "sportello", "password": "giusta-password-1"},
        **through_proxy(STAFF_MEMBER),
    )
    assert response.status_code == 302
    assert "_auth_user_id" in staff.session
    # The attacker's own address is locked, whatever it writes in the header.
    locked = attacker.post(
        "/admin/login/",
        {"username": "sportello", "password": "giusta-password-1"},
        **through_proxy(ATTACKER, spoofed=STAFF_MEMBER),
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in attacker.session
    # The address recorded is the one the proxy saw.
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ATTACKER]


def test_cashier_lockout_behind_the_proxy_is_per_address(settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    shop = factories.merchant()
    cashier = factories.cashier(shop=shop, password="cassa-password-1")
    for attempt in range(5):
        Client().post(
            "/cassa/accesso/",
            {"username": cashier.username, "password": "no"},
            **through_proxy(ATTACKER, spoofed=f"192.0.2.{attempt}"),
        )
    till = Client()
    response = till.post(
        "/cassa/accesso/",
        {"username": cashier.username, "password": "cassa-password-1"},
        **through_proxy(STAFF_MEMBER),
    )
    assert response.status_code == 302
    assert "_auth_user_id" in till.session
