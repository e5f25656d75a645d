from decimal import Decimal

import pypdfium2
import pytest

from tests import factories
from tests.zbar import decode
from vouchers.models import Voucher
from vouchers.printing import printable_vouchers, vouchers_pdf
from vouchers.services.issuing import voucher_issue_bulk

pytestmark = pytest.mark.django_db


def decoded_codes(pdf: bytes) -> list[list[str]]:
    """Decode each buono of each page on its own, as a phone pointed at one buono would."""
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    for page in document:
        image = page.render(scale=150 / 72).to_pil().convert("L")
        width, height = image.size
        codes = []
        for left, top in [(0, 0), (width // 2, 0), (0, height // 2), (width // 2, height // 2)]:
            quarter = image.crop((left, top, left + width // 2, top + height // 2))
            codes += [symbol.data.decode() for symbol in decode(quarter)]
        pages.append(sorted(codes))
    return pages


def test_printed_sheet_qr_decodes_to_the_voucher_code():
    voucher = factories.voucher()
    pdf = vouchers_pdf(printable_vouchers(Voucher.objects.filter(pk=voucher.pk)))
    assert pdf.startswith(b"%PDF")
    assert decoded_codes(pdf) == [[voucher.code]]


def test_fixed_buoni_of_one_holder_share_a_sheet_four_at_a_time():
    initiative = factories.initiative(face_value="25.00", partial_allowed=False)
    holder = factories.beneficiary(municipality=initiative.municipalities.first())
    vouchers = voucher_issue_bulk(initiative=initiative, beneficiaries=[holder], quantity=5)
    assert {v.face_value for v in vouchers} == {Decimal("25.00")}
    pdf = vouchers_pdf(printable_vouchers(Voucher.objects.filter(beneficiary=holder)))
    pages = decoded_codes(pdf)
    assert len(pages) == 2
    assert [len(codes) for codes in pages] == [4, 1]
    assert sorted(code for codes in pages for code in codes) == sorted(v.code for v in vouchers)
