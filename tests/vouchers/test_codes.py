"""Voucher codes: random, short in a QR, forgiving to people who type them."""

import io

import pytest
from PIL import Image

from tests.zbar import decode
from vouchers.codes import (
    ALPHABET,
    CODE_LENGTH,
    InvalidCodeFormat,
    generate_code,
    group_code,
    normalize_code,
)
from vouchers.qr import voucher_qr, voucher_qr_png, voucher_qr_svg

CODE = "10ABCDEFGHJKMNPQRS01"


def test_a_code_carries_at_least_100_bits_of_randomness():
    assert len(ALPHABET) == 32
    assert CODE_LENGTH * 5 >= 100


def test_generated_codes_are_20_crockford_characters_without_ambiguous_letters():
    for _ in range(200):
        code = generate_code()
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert not set(code) & set("ILOU")


def test_generated_codes_do_not_repeat():
    assert len({generate_code() for _ in range(5000)}) == 5000


def test_generated_codes_use_the_whole_alphabet():
    assert set("".join(generate_code() for _ in range(500))) == set(ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        CODE.lower(),
        "10ABC-DEFGH-JKMNP-QRS01",
        "10abc defgh jkmnp qrs01",
        "  10ABC_DEFGH.JKMNP--QRS01\n",
        "IOABCDEFGHJKMNPQRSO1",
        "loabcdefghjkmnpqrsoi",
    ],
)
def test_normalize_accepts_case_separators_and_o_i_l_typos(typed):
    assert normalize_code(typed) == CODE


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        CODE[:-1],
        CODE + "2",
        "U" + CODE[1:],
        "10ABCDEFGHJKMNPQRS0!",
        "10ABCDEFGHJKMNPQRS0è",
    ],
)
def test_normalize_refuses_text_that_cannot_be_a_code(typed):
    with pytest.raises(InvalidCodeFormat):
        normalize_code(typed)


@pytest.mark.parametrize("value", [None, 12345678901234567890, ["10ABCDEFGHJKMNPQRS01"]])
def test_normalize_refuses_values_that_are_not_text(value):
    with pytest.raises(InvalidCodeFormat):
        normalize_code(value)


def test_group_code_splits_the_code_in_groups_of_five_that_normalize_back():
    assert group_code(CODE) == "10ABC-DEFGH-JKMNP-QRS01"
    code = generate_code()
    assert normalize_code(group_code(code)) == code


def test_the_qr_holds_only_the_code_in_a_small_alphanumeric_symbol():
    qr = voucher_qr(CODE)
    assert qr.mode == "alphanumeric"
    assert qr.version <= 2


def test_the_png_qr_decodes_to_exactly_the_code():
    image = Image.open(io.BytesIO(voucher_qr_png(CODE)))
    assert [symbol.data.decode() for symbol in decode(image)] == [CODE]


def test_the_svg_qr_is_black_on_white_without_an_xml_declaration():
    svg = voucher_qr_svg(CODE).decode()
    assert svg.startswith("<svg")
    assert "#000" in svg and "#fff" in svg
    assert CODE not in svg
