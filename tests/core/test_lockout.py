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
