"""The receipt of a citizen's donation, as an A4 PDF in Italian, with the amount in words."""

from __future__ import annotations

import io
from decimal import Decimal

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.models import Contribution
from core.money import CENT, format_euro
from core.services.funding import ContributionError

# --- amounts in words ----------------------------------------------------------------------

_UNITS = [
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciotto",
    "diciannove",
]
_TENS = ["", "", "venti", "trenta", "quaranta", "cinquanta", "sessanta", "settanta", "ottanta"]
_TENS.append("novanta")


def _below_thousand(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    words = ""
    if hundreds:
        words = "cento" if hundreds == 1 else _UNITS[hundreds] + "cento"
    if rest < 20:
        tail = _UNITS[rest] if rest else ""
    else:
        tens, unit = divmod(rest, 10)
        tail = _TENS[tens]
        if unit in (1, 8):
            tail = tail[:-1]  # ventuno, trentotto
        tail += _UNITS[unit] if unit else ""
    if words and tail.startswith("ott") and rest >= 80:
        tail = tail[1:]  # centottanta
    return words + tail


def integer_in_words(number: int) -> str:
    """Write a whole number in Italian words, as on a cheque: ``centoventitré``."""
    if number == 0:
        return "zero"
    parts = []
    for size, one, many in (
        (10**9, "unmiliardo", "miliardi"),
        (10**6, "unmilione", "milioni"),
    ):
        count, number = divmod(number, size)
        if count:
            parts.append(one if count == 1 else integer_in_words(count) + many)
    thousands, number = divmod(number, 1000)
    if thousands:
        parts.append("mille" if thousands == 1 else _below_thousand(thousands) + "mila")
    if number:
        parts.append(_below_thousand(number))
    words = "".join(parts)
    if words.endswith("tre") and len(words) > 3:
        words = words[:-3] + "tré"
    return words


def euro_in_words(amount: Decimal) -> str:
    """An amount as Italian receipts write it: ``centoventitré/45``."""
    amount = amount.quantize(CENT)
    euros = int(amount)
    cents = int((amount - euros) * 100)
    return f"{integer_in_words(euros)}/{cents:02d}"


# --- the donation receipt ------------------------------------------------------------------


def agency_name() -> str:
    return getattr(settings, "AGENCY_NAME", "") or settings.AGENCY_DEBTOR_NAME


def donation_receipt_pdf(*, contribution: Contribution) -> bytes:
    """Return the A4 receipt of a citizen's donation, in Italian."""
    if contribution.receipt_number is None:
        raise ContributionError("not_a_donation")
    page_width, page_height = A4
    margin = 20 * mm
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    with translation.override("it"):
        canvas.setTitle(
            _("Ricevuta di donazione %(number)s") % {"number": contribution.receipt_label}
        )
        top = page_height - margin
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(margin, top, agency_name()[:80])
        canvas.setFont("Helvetica", 10)
        canvas.drawString(
            margin,
            top - 6 * mm,
            _("Gestore del fondo: %(fund)s")
            % {"fund": f"{contribution.fund.name} ({contribution.fund.manager.name})"[:100]},
        )
        canvas.line(margin, top - 10 * mm, page_width - margin, top - 10 * mm)
        canvas.setFont("Helvetica-Bold", 18)
        canvas.drawString(
            margin,
            top - 25 * mm,
            _("Ricevuta di donazione n. %(number)s") % {"number": contribution.receipt_label},
        )
        lines = [
            (_("Data"), formats.date_format(contribution.received_on, "d/m/Y")),
            (_("Donatore"), contribution.donor_name),
            (_("Codice fiscale"), contribution.donor_fiscal_code or "—"),
            (_("Indirizzo"), contribution.donor_address or "—"),
            (_("Importo"), format_euro(contribution.amount)),
            (
                _("Importo in lettere"),
                _("euro %(words)s") % {"words": euro_in_words(contribution.amount)},
            ),
            (_("Fondo"), contribution.fund.name),
            (_("Causale"), contribution.purpose or _("Donazione al fondo")),
            (_("Riferimento"), contribution.document_reference or "—"),
        ]
        y = top - 40 * mm
        for label, value in lines:
            canvas.setFont("Helvetica-Bold", 11)
            canvas.drawString(margin, y, f"{label}:")
            canvas.setFont("Helvetica", 11)
            canvas.drawString(margin + 45 * mm, y, str(value)[:80])
            y -= 8 * mm
        canvas.setFont("Helvetica", 10)
        y -= 6 * mm
        canvas.drawString(
            margin,
            y,
            _("Si dichiara di aver ricevuto la somma indicata, destinata al fondo sopra nominato."),
        )
        canvas.drawString(
            margin,
            y - 6 * mm,
            _("La ricevuta vale come attestazione del versamento ricevuto."),
        )
        canvas.drawString(
            page_width - margin - 70 * mm,
            y - 30 * mm,
            _("Per %(agency)s") % {"agency": agency_name()[:50]},
        )
        canvas.line(page_width - margin - 70 * mm, y - 45 * mm, page_width - margin, y - 45 * mm)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
