"""Amounts typed by people, the Italian way or not: one parser (``core.money.parse_euro``)
and one form field (``core.forms.EuroField``) for the app, the admin and the imports."""

from decimal import Decimal

import pytest
from django import forms
from django.utils import translation

from core.forms import EuroField
from core.money import InvalidAmount, parse_euro

D = Decimal


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("8500", "8500.00"),
        ("8500,00", "8500.00"),
        ("8.500,00", "8500.00"),
        ("8500.00", "8500.00"),
        ("€ 8.500", "8500.00"),
        ("8.500 €", "8500.00"),
        ("EUR 12,30", "12.30"),
        ("1\u00a0234,56", "1234.56"),
        ("1.234.567,8", "1234567.80"),
        ("1,234.56", "1234.56"),
        ("0,5", "0.50"),
        ("8.50", "8.50"),
        ("0", "0.00"),
    ],
)
def test_amounts_typed_the_italian_way_or_unambiguously_are_read_right(typed, amount):
    assert parse_euro(typed) == D(amount)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("8,500", "ambiguous"),
        ("-5", "negative"),
        ("−5,00", "negative"),
        ("8500,001", "decimals"),
        ("1.2345", "decimals"),
        ("0.500", "decimals"),
        ("8.500.00", "invalid"),
        ("12,5,0", "invalid"),
        ("8500.", "invalid"),
        ("1e3", "invalid"),
        ("abc", "invalid"),
        ("", "invalid"),
        ("9999999999999", "too_large"),
    ],
)
def test_ambiguous_negative_or_malformed_amounts_are_refused_with_the_reason(typed, code):
    with pytest.raises(InvalidAmount) as refused:
        parse_euro(typed)
    assert refused.value.code == code


def test_the_field_is_a_text_input_with_the_decimal_keypad():
    class Form(forms.Form):
        isee = EuroField(label="ISEE")

    html = str(Form()["isee"])
    assert 'type="text"' in html and 'inputmode="decimal"' in html


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("8,500", "«8,500» si può leggere in due modi"),
        ("-3", "L'importo non può essere negativo."),
        ("3,555", "si può leggere in due modi"),
        ("30,555", "si può leggere in due modi"),
        ("3000,555", "Al massimo due decimali"),
        ("ottomila", "Importo non valido"),
        ("600.000,00", "Importo non plausibile: al massimo € 500.000,00."),
    ],
)
def test_the_field_says_in_words_what_is_wrong(typed, message):
    field = EuroField(max_value=D("500000.00"))
    with translation.override("it"):
        with pytest.raises(Exception) as refused:
            field.clean(typed)
        assert message in " ".join(refused.value.messages)


def test_the_field_cleans_to_a_decimal_or_none():
    field = EuroField(required=False, min_value=D("0.01"))
    assert field.clean("8.500,00") == D("8500.00")
    assert field.clean("") is None
