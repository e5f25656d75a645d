"""A report (``reports.rendicontazione``) as files: CSV, XLSX and PDF, the same in the admin's
downloads and in a closed call's archive."""

import io
from datetime import date
from decimal import Decimal
from typing import cast

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from core.money import format_euro
from core.spreadsheets import csv_bytes, file_name
from reports.report import Dimension, Period, Report

# --- the cells, as people and files read them -----------------------------------------------


def _date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def period_label(period: Period) -> str:
    if period.start and period.end:
        return _("dal %(start)s al %(end)s") % {
            "start": _date(period.start),
            "end": _date(period.end),
        }
    if period.start:
        return _("dal %(start)s") % {"start": _date(period.start)}
    if period.end:
        return _("fino al %(end)s") % {"end": _date(period.end)}
    return _("dall'inizio")


def generated_label(report: Report) -> str:
    return timezone.localtime(report.generated_at).strftime("%d/%m/%Y %H:%M")


def _euro(amount: Decimal | None) -> str:
    """An amount as the admin shows it (``core.admin.euro``): a dash when there is none."""
    return format_euro(amount).replace(" ", "\u00a0") if amount is not None else "—"


def shown(value: Decimal | int | None, money: bool) -> str:
    """A figure for the page and the PDF: euros, or a whole number with separators."""
    if money:
        return _euro(cast(Decimal | None, value))  # a money column holds amounts
    return formats.number_format(value or 0, force_grouping=True)


def row_label_header(report: Report) -> str:
    return str(
        Dimension(
            Dimension.INITIATIVE if report.dimension == Dimension.FUNDER else report.dimension
        ).label
    )


def _table_rows(report: Report) -> list[tuple[str, dict[str, Decimal | int | None]]]:
    return [(row.label, row.figures) for row in report.rows] + [(_("Totale"), report.totals)]


def report_csv(report: Report) -> bytes:
    """The report as CSV for the reader's spreadsheet: in Italian, columns separated by
    semicolons and amounts with a decimal comma (``core.spreadsheets``)."""
    return csv_bytes(
        [
            [row_label_header(report), *[str(c.label) for c in report.columns]],
            *(
                [label, *[figures[c.key] for c in report.columns]]
                for label, figures in _table_rows(report)
            ),
        ]
    )


def report_xlsx(report: Report) -> bytes:
    """The report as one XLSX sheet: a heading, then the table with numbers as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("Rendicontazione")[:31]
    bold = Font(bold=True)
    sheet.append([report.title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([report.subject])
    sheet.append([_("Periodo: %(period)s") % {"period": period_label(report.period)}])
    sheet.append([_("Generato il %(when)s") % {"when": generated_label(report)}])
    if report.note:
        sheet.append([report.note])
    sheet.append([])
    sheet.append([row_label_header(report), *[str(c.label) for c in report.columns]])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for label, figures in _table_rows(report):
        sheet.append([label, *[figures[c.key] for c in report.columns]])
        for column, cell in zip(report.columns, sheet[sheet.max_row][1:], strict=True):
            if column.money:
                cell.number_format = "#,##0.00 [$€-410]"
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    sheet.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


PAGE: tuple[float, float] = landscape(A4)
MARGIN: float = 15 * mm
ROW_HEIGHT: float = 6 * mm


def _pdf_columns(report: Report) -> tuple[float, list[float]]:
    """Where the label column ends and where each figure column's right edge is."""
    width = PAGE[0] - 2 * MARGIN
    label_width = min(70 * mm, width * 0.3)
    step = (width - label_width) / max(len(report.columns), 1)
    return label_width, [MARGIN + label_width + step * (i + 1) for i in range(len(report.columns))]


def _pdf_heading_lines(report: Report) -> list[tuple[str, int, str]]:
    """The heading's lines ``(font, size, text)``, each wrapped on words to the page width."""
    width = PAGE[0] - 2 * MARGIN
    lines = [
        ("Helvetica-Bold", 15, line)
        for line in simpleSplit(report.title, "Helvetica-Bold", 15, width)
    ]
    for text in (
        report.subject,
        _("Periodo: %(period)s") % {"period": period_label(report.period)},
        _("Generato il %(when)s") % {"when": generated_label(report)},
        report.note,
    ):
        if text:
            lines += [
                ("Helvetica", 10, line) for line in simpleSplit(str(text), "Helvetica", 10, width)
            ]
    return lines


def _pdf_heading_height(lines: list[tuple[str, int, str]]) -> float:
    height: float = sum(7 * mm if size > 10 else 5 * mm for _font, size, _text in lines)
    return height


def _pdf_header(canvas: Canvas, report: Report, rights: list[float]) -> float:
    y: float = PAGE[1] - MARGIN
    for font, size, text in _pdf_heading_lines(report):
        canvas.setFont(font, size)
        canvas.drawString(MARGIN, y, text)
        y -= 7 * mm if size > 10 else 5 * mm
    y -= 3 * mm
    canvas.setFont("Helvetica-Bold", 8)
    canvas.drawString(MARGIN, y, row_label_header(report))
    step = rights[1] - rights[0] if len(rights) > 1 else 40 * mm
    for column, right in zip(report.columns, rights, strict=True):
        # A long heading goes on two lines, so that neighbouring headings never overlap.
        lines = simpleSplit(str(column.label), "Helvetica-Bold", 8, step - 2 * mm)
        for offset, line in enumerate(lines[:2]):
            canvas.drawRightString(right, y - offset * 3.5 * mm, line)
    y -= 3.5 * mm
    canvas.line(MARGIN, y - 2 * mm, PAGE[0] - MARGIN, y - 2 * mm)
    canvas.setFont("Helvetica", 8)
    return y - ROW_HEIGHT


def _pdf_rows_per_page(report: Report) -> tuple[int, int]:
    heading = _pdf_heading_height(_pdf_heading_lines(report))
    first_row = PAGE[1] - MARGIN - heading - 6.5 * mm - ROW_HEIGHT
    rows = int((first_row - MARGIN - 10 * mm) // ROW_HEIGHT) + 1
    return max(rows, 1), len(report.rows) + 1


def report_pdf(report: Report) -> bytes:
    """The report on A4 landscape pages: title, call, period, when, and "page n of m"."""
    label_width, rights = _pdf_columns(report)
    per_page, count = _pdf_rows_per_page(report)
    pages = max(1, -(-count // per_page))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(f"{report.title} - {report.subject}")
    rows = _table_rows(report)
    for page in range(pages):
        y = _pdf_header(canvas, report, rights)
        chunk = rows[page * per_page : (page + 1) * per_page]
        for index, (label, figures) in enumerate(chunk):
            is_total = page == pages - 1 and index == len(chunk) - 1
            if is_total:
                canvas.line(
                    MARGIN, y + ROW_HEIGHT - 2 * mm, PAGE[0] - MARGIN, y + ROW_HEIGHT - 2 * mm
                )
                canvas.setFont("Helvetica-Bold", 8)
            # The label is cut to its column's width, about 2 mm a character at this size.
            canvas.drawString(MARGIN, y, str(label)[: int(label_width / (1.9 * mm))])
            for column, right in zip(report.columns, rights, strict=True):
                canvas.drawRightString(right, y, shown(figures[column.key], column.money))
            y -= ROW_HEIGHT
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(
            PAGE[0] - MARGIN,
            MARGIN / 2,
            _("Pagina %(page)d di %(pages)d") % {"page": page + 1, "pages": pages},
        )
        canvas.drawString(MARGIN, MARGIN / 2, "BuonoComune")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
WRITERS = {"csv": report_csv, "xlsx": report_xlsx, "pdf": report_pdf}


def report_file_name(report: Report, file_format: str) -> str:
    """``rendicontazione-bando-<titolo>[-per-<righe>]-AAAA-MM-GG.<formato>``, in Italian."""
    with translation.override("it"):
        if report.dimension == Dimension.FUNDER:
            parts = ["finanziatore", report.subject]
        else:
            parts = ["bando", report.subject]
            if report.dimension != Dimension.INITIATIVE:
                parts += ["per", str(Dimension(report.dimension).label)]
    return file_name(
        "rendicontazione",
        *parts,
        extension=file_format,
        day=timezone.localdate(report.generated_at),
    )
