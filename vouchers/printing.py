"""Printable vouchers for people without a smartphone: A4 sheets with the QR and the code."""

import io
import re
from collections.abc import Iterable
from itertools import groupby

from django.utils import formats, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.money import format_euro
from vouchers.codes import group_code
from vouchers.models import Voucher
from vouchers.qr import voucher_qr

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
SLOTS_PER_PAGE = 4  # a 2 × 2 grid of buoni on each A4 sheet
QR_SIZE = 55 * mm
_DARK_RUN = re.compile(rb"\x01+")  # a run of dark modules in a row of segno's matrix


def _draw_qr(canvas: Canvas, code: str, x: float, y: float, size: float) -> None:
    """Draw the QR as black squares: sharp at any printer resolution, no image decoding.

    The path is written in module units on a scaled canvas, one rectangle per run of dark
    modules in a row: whole numbers instead of floats formatted one by one, about half the
    rectangles, and no hairline seams between neighbouring modules.
    """
    matrix = voucher_qr(code).matrix
    border = 4
    modules = len(matrix) + 2 * border
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(size / modules, size / modules)
    rectangles = []
    for row_index, row in enumerate(matrix):
        bottom = modules - border - 1 - row_index
        for run in _DARK_RUN.finditer(row):
            start, end = run.span()
            rectangles.append(f"{start + border} {bottom} {end - start} 1 re")
    rectangles.append("f")  # fill the path: every rectangle above, nonzero winding
    canvas.addLiteral("\n".join(rectangles))
    canvas.restoreState()


def _date(value) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _draw_header(canvas: Canvas, voucher: Voucher, municipality: str) -> None:
    top = PAGE_HEIGHT - MARGIN
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(MARGIN, top - 6 * mm, voucher.initiative.title[:70])
    canvas.setFont("Helvetica", 11)
    canvas.drawString(MARGIN, top - 13 * mm, municipality[:90])
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(
        MARGIN, top - 21 * mm, _("Intestatario: %(name)s") % {"name": voucher.beneficiary.full_name}
    )
    canvas.setFont("Helvetica", 10)
    canvas.drawString(
        MARGIN,
        top - 27 * mm,
        _("Buono nominativo: il negozio può chiedere un documento d'identità."),
    )
    canvas.line(MARGIN, top - 30 * mm, PAGE_WIDTH - MARGIN, top - 30 * mm)


def _draw_slot(canvas: Canvas, voucher: Voucher, slot: int) -> None:
    column, row = slot % 2, slot // 2
    slot_width = (PAGE_WIDTH - 2 * MARGIN) / 2
    slot_height = (PAGE_HEIGHT - 2 * MARGIN - 35 * mm) / 2
    left = MARGIN + column * slot_width
    top = PAGE_HEIGHT - MARGIN - 35 * mm - row * slot_height
    canvas.setDash(3, 3)
    canvas.rect(
        left + 2 * mm, top - slot_height + 2 * mm, slot_width - 4 * mm, slot_height - 4 * mm
    )
    canvas.setDash()
    _draw_qr(
        canvas, voucher.code, left + (slot_width - QR_SIZE) / 2, top - 8 * mm - QR_SIZE, QR_SIZE
    )
    centre = left + slot_width / 2
    canvas.setFont("Helvetica-Bold", 18)
    value_label = (
        _("Valore %(amount)s") if voucher.partial_allowed else _("Buono da %(amount)s")
    ) % {"amount": format_euro(voucher.face_value)}
    canvas.drawCentredString(centre, top - 16 * mm - QR_SIZE, value_label)
    canvas.setFont("Courier-Bold", 14)
    canvas.drawCentredString(centre, top - 24 * mm - QR_SIZE, group_code(voucher.code))
    canvas.setFont("Helvetica", 10)
    canvas.drawCentredString(
        centre,
        top - 31 * mm - QR_SIZE,
        _("Valido dal %(start)s al %(end)s")
        % {"start": _date(voucher.valid_from), "end": _date(voucher.valid_until)},
    )
    if voucher.partial_allowed:
        canvas.drawCentredString(
            centre, top - 37 * mm - QR_SIZE, _("Si può spendere in più volte fino al saldo.")
        )
    else:
        canvas.drawCentredString(
            centre, top - 37 * mm - QR_SIZE, _("Si spende tutto in una volta, senza resto.")
        )


def vouchers_pdf(vouchers: Iterable[Voucher], *, language: str = "it") -> bytes:
    """Return one PDF with a sheet (or more) per holder, up to four buoni per sheet."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("BuonoComune")
    ordered = sorted(vouchers, key=lambda v: (v.initiative_id, v.beneficiary_id, v.pk))
    with translation.override(language):
        for _key, group in groupby(ordered, key=lambda v: (v.initiative_id, v.beneficiary_id)):
            holder_vouchers = list(group)
            municipality = holder_vouchers[0].beneficiary.municipality.name
            for start in range(0, len(holder_vouchers), SLOTS_PER_PAGE):
                _draw_header(canvas, holder_vouchers[0], municipality)
                for slot, voucher in enumerate(holder_vouchers[start : start + SLOTS_PER_PAGE]):
                    _draw_slot(canvas, voucher, slot)
                canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def printable_vouchers(queryset) -> list[Voucher]:
    """Load what the sheets show in a bounded number of queries."""
    return list(
        queryset.select_related("initiative", "beneficiary__municipality").order_by(
            "initiative_id", "beneficiary_id", "pk"
        )
    )
