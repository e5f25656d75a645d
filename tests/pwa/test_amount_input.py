"""Amounts typed the Italian way in the app's forms and in the desk's imports are read right;
implausible ones are a form error and nothing is stored."""

from decimal import Decimal

import pytest
from django.urls import reverse

from core.spreadsheets import read_rows as read_table
from tests import factories
from tests.vouchers.test_importing import csv_bytes, row
from tests.vouchers.test_programme import fiscal_code, open_call
from vouchers.models import Application
from vouchers.services.access import beneficiary_user
from vouchers.services.imports import applications_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def form_url(client):
    initiative = open_call()
    code, birth, sex = fiscal_code(7)
    holder = factories.beneficiary(fiscal_code=code, municipality=initiative.municipalities.get())
    client.force_login(beneficiary_user(beneficiary=holder))
    form = {
        "birth_date": birth.isoformat(),
        "sex": sex,
        "municipality": initiative.municipalities.get().pk,
        "street": "Via Verdi 1",
        "postal_code": "24100",
    }
    return reverse("webapp:apply", args=[initiative.pk]), form


@pytest.fixture
def apply(client, form_url):
    url, form = form_url
    return lambda isee: client.post(url, {**form, "isee": isee}, headers={"accept-language": "it"})


def test_the_apply_form_offers_a_text_box_with_the_decimal_keypad_for_the_isee(client, form_url):
    html = client.get(form_url[0]).content.decode()
    at = html.index('name="isee"')
    tag = html[html.rindex("<input", 0, at) : html.index(">", at)]
    assert 'type="text"' in tag and 'inputmode="decimal"' in tag


@pytest.mark.parametrize("typed", ["8500,00", "8.500,00", "8500.00", "€ 8.500"])
def test_an_isee_typed_the_italian_way_is_stored_as_typed(apply, typed):
    response = apply(typed)
    assert response.status_code == 302
    assert Application.objects.get().isee == Decimal("8500.00")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("850000000", "Importo non plausibile"),
        ("-100", "non può essere negativo"),
        ("8,500", "si può leggere in due modi"),
        ("8500,123", "Al massimo due decimali"),
    ],
)
def test_an_implausible_or_ambiguous_isee_is_a_form_error(apply, typed, message):
    response = apply(typed)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Application.objects.exists()


def test_an_import_reads_the_isee_the_italian_way_and_refuses_an_implausible_one():
    initiative = open_call()
    rows = read_table(
        csv_bytes([row(initiative, 1, isee="8.500,00"), row(initiative, 2, isee="€ 12.000")]),
        filename="a.csv",
    )
    result = applications_import(initiative=initiative, rows=rows)
    assert result.errors == []
    assert sorted(a.isee for a in result.imported) == [Decimal("8500.00"), Decimal("12000.00")]
    bad = read_table(csv_bytes([row(initiative, 3, isee="8.500.000,00")]), filename="b.csv")
    (error,) = applications_import(initiative=initiative, rows=bad).errors
    assert error.row == 2 and "non plausibile" in error.message
