"""The statement a shop receives with a settlement (PDF)."""

import io
from datetime import datetime

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.money import format_euro
from merchants.models import Settlement
from merchants.selectors import settlement_periods

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
ROW_HEIGHT = 6 * mm
COLUMNS = (MARGIN, MARGIN + 45 * mm, MARGIN + 85 * mm)  # date, receipt, voucher
AMOUNT_RIGHT = PAGE_WIDTH - MARGIN


def _when(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _statement_header(canvas: Canvas, settlement: Settlement, period, page: int) -> float:
    merchant = settlement.merchant
    top = PAGE_HEIGHT - MARGIN
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(
        MARGIN, top, _("Estratto della liquidazione n. %(number)s") % {"number": settlement.pk}
    )
    canvas.setFont("Helvetica", 10)
    who = merchant.name
    if merchant.legal_name and merchant.legal_name != merchant.name:
        who = f"{merchant.legal_name} ({merchant.name})"
    lines = [
        who,
        f"{merchant.street}, {merchant.postal_code} {merchant.town}",
        _("Partita IVA %(vat)s · IBAN %(iban)s")
        % {"vat": merchant.vat_number, "iban": merchant.iban},
        _("Liquidazione del %(date)s") % {"date": _when(settlement.created_at)},
    ]
    if period:
        lines.append(
            _("Utilizzi dal %(first)s al %(last)s")
            % {
                "first": formats.date_format(period[0], "SHORT_DATE_FORMAT"),
                "last": formats.date_format(period[1], "SHORT_DATE_FORMAT"),
            }
        )
    y = top - 8 * mm
    for text in lines:
        canvas.drawString(MARGIN, y, text[:110])
        y -= 5 * mm
    canvas.drawRightString(AMOUNT_RIGHT, top, _("Pagina %(page)s") % {"page": page})
    y -= 3 * mm
    canvas.setFont("Helvetica-Bold", 10)
    for x, title in zip(COLUMNS, (_("Data"), _("Scontrino"), _("Buono")), strict=True):
        canvas.drawString(x, y, title)
    canvas.drawRightString(AMOUNT_RIGHT, y, _("Importo"))
    canvas.line(MARGIN, y - 2 * mm, AMOUNT_RIGHT, y - 2 * mm)
    canvas.setFont("Helvetica", 10)
    return y - ROW_HEIGHT - 1 * mm


def settlement_statement_pdf(settlement: Settlement, *, language: str = "it") -> bytes:
    """Return the statement of a settlement: every redemption it pays, and the total."""
    redemptions = (
        settlement.redemptions.select_related("voucher")
        .only("pk", "created_at", "amount", "voucher__code")
        .order_by("created_at", "pk")
    )
    period = settlement_periods([settlement]).get(settlement.pk)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"BuonoComune - liquidazione {settlement.pk}")
    with translation.override(language):
        page = 1
        y = _statement_header(canvas, settlement, period, page)
        for redemption in redemptions.iterator(chunk_size=2000):
            if y < MARGIN + 20 * mm:
                canvas.showPage()
                page += 1
                y = _statement_header(canvas, settlement, period, page)
            canvas.drawString(COLUMNS[0], y, _when(redemption.created_at))
            canvas.drawString(COLUMNS[1], y, redemption.receipt_number)
            canvas.drawString(COLUMNS[2], y, redemption.voucher.code_hint)
            canvas.drawRightString(AMOUNT_RIGHT, y, format_euro(redemption.amount))
            y -= ROW_HEIGHT
        canvas.line(MARGIN, y + ROW_HEIGHT - 2 * mm, AMOUNT_RIGHT, y + ROW_HEIGHT - 2 * mm)
        y -= 2 * mm
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(
            MARGIN,
            y,
            _("Totale: %(count)s utilizzi") % {"count": settlement.redemptions_count},
        )
        canvas.drawRightString(AMOUNT_RIGHT, y, format_euro(settlement.total))
        canvas.setFont("Helvetica", 9)
        canvas.drawString(
            MARGIN,
            y - 8 * mm,
            _("Nessuna commissione: il bonifico è la somma esatta degli utilizzi elencati."),
        )
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
