"""Printed letters and receipts: A4 pages laid out by reportlab's platypus.

Paragraphs wrap on word boundaries at any length, so a long call title, name or reason
never runs off the page nor breaks inside a word.
"""

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

MARGIN = 25 * mm
TEXT_WIDTH = A4[0] - 2 * MARGIN

STYLES = {
    "heading": ParagraphStyle("heading", fontName="Helvetica-Bold", fontSize=14, leading=18),
    "address": ParagraphStyle("address", fontName="Helvetica", fontSize=11, leading=14),
    "subject": ParagraphStyle(
        "subject", fontName="Helvetica-Bold", fontSize=12, leading=16, spaceAfter=6
    ),
    "body": ParagraphStyle("body", fontName="Helvetica", fontSize=11.5, leading=16, spaceAfter=6),
    "small": ParagraphStyle("small", fontName="Helvetica", fontSize=9.5, leading=13, spaceAfter=4),
    "code": ParagraphStyle("code", fontName="Courier-Bold", fontSize=15, leading=20),
}


def paragraph(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text (escaped: a name with «&» or «<» is printed as typed)."""
    return Paragraph(escape(str(text)), STYLES[style])


def paragraphs(text: str, style: str = "body") -> list[Flowable]:
    """One paragraph per line of ``text``; empty lines are dropped."""
    return [paragraph(line, style) for line in str(text).splitlines() if line.strip()]


def today_label() -> str:
    return _("Data: %(date)s") % {"date": formats.date_format(timezone.localdate())}


def address_block(lines: list[str]) -> Table:
    """The recipient's name and address in the right half of the page (a window envelope)."""
    cell = [paragraph(line, "address") for line in lines if line]
    table = Table([["", cell]], colWidths=[TEXT_WIDTH * 0.5, TEXT_WIDTH * 0.5])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def boxed(flowables: list[Flowable]) -> Table:
    table = Table([[flowables]], colWidths=[TEXT_WIDTH])
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), 5 * mm),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
            ]
        )
    )
    return KeepTogether([table])


@dataclass(frozen=True, slots=True)
class Page:
    """What one page (or more, if long) of a document holds, top to bottom."""

    flowables: list[Flowable]


def pages_pdf(pages: list[Page], *, title: str) -> bytes:
    """Build a PDF with each page's flowables, each starting on a new sheet."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author="BuonoComune",
    )
    story: list[Flowable] = []
    for index, page in enumerate(pages):
        if index:
            story.append(PageBreak())
        story.extend(page.flowables)
    if not story:
        story.append(Spacer(1, 1))
    document.build(story)
    return buffer.getvalue()


def _receipt_rows(rows: list[tuple[str, str]]) -> Table:
    table = Table(
        [[paragraph(label, "small"), paragraph(value)] for label, value in rows],
        colWidths=[TEXT_WIDTH * 0.3, TEXT_WIDTH * 0.7],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.grey),
                ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
            ]
        )
    )
    return table


def application_receipt_pdf(
    application, *, next_steps: list[str], closing: list[str] = ()
) -> bytes:
    """The desk's receipt of an application: protocol, call, date, applicant, what comes next.

    ``next_steps`` and ``closing`` are sentences already written for this application (see
    ``vouchers.outcome_letters.receipt_texts``).
    """
    applicant = application.applicant
    address = ", ".join(
        part
        for part in (
            application.street,
            f"{application.postal_code} {application.municipality.name}".strip(),
        )
        if part
    )
    submitted = timezone.localtime(application.submitted_at)
    rows = [
        (_("Protocollo"), application.protocol_number),
        (_("Bando"), application.initiative.title),
        (
            _("Presentata il"),
            _("%(date)s alle %(time)s")
            % {
                "date": formats.date_format(submitted),
                "time": formats.time_format(submitted, "H:i"),
            },
        ),
        (_("Richiedente"), f"{applicant.full_name} · {applicant.fiscal_code}"),
        (_("Residenza"), address or "—"),
        (_("Canale"), application.get_channel_display()),
        (_("Allegati"), str(application.documents.count())),
    ]
    flowables: list[Flowable] = [
        paragraph(application.municipality.name, "heading"),
        Spacer(1, 4 * mm),
        paragraph(_("Ricevuta di presentazione della domanda"), "subject"),
        _receipt_rows(rows),
        Spacer(1, 6 * mm),
        paragraph(_("Che cosa succede ora"), "subject"),
        *(paragraph(text) for text in next_steps),
        Spacer(1, 3 * mm),
        *(paragraph(text, "small") for text in closing),
        Spacer(1, 14 * mm),
        paragraph(_("Timbro e firma dell'operatore ______________________________"), "small"),
    ]
    return pages_pdf(
        [Page(flowables)],
        title=_("Ricevuta della domanda %(protocol)s") % {"protocol": application.protocol_number},
    )
