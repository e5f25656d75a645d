"""CSV and XLSX files that open right in the reader's spreadsheet, their names, and reading
the rows of an uploaded one (``read_rows``).

CSV: UTF-8 with a byte-order mark; in a language that writes decimals with a comma
(Italian) the columns are separated by semicolons and amounts written 8500,50, as an Italian
Excel expects, else commas and 8500.50. XLSX: amounts and counts are numbers, amounts
with two decimals and thousands separators. File names are Italian words, lower case, with
the day: ``domande-2026-12-07.xlsx``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import tablib
from django.utils import timezone, translation
from django.utils.formats import get_format
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"


def csv_conventions() -> tuple[str, str]:
    """The column separator and the decimal mark of the reader's language."""
    decimal_mark = get_format("DECIMAL_SEPARATOR")
    return (";", ",") if decimal_mark == "," else (",", ".")


def _csv_cell(value: object, decimal_mark: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", decimal_mark)
    return str(value)


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows (the header first) as CSV text for the reader's spreadsheet, with its BOM."""
    delimiter, decimal_mark = csv_conventions()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow([_csv_cell(value, decimal_mark) for value in row])
    return "\ufeff" + out.getvalue()


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    return csv_text(rows).encode("utf-8")


def append_row(sheet: Worksheet, values: Sequence[Any], *, bold: bool = False) -> None:
    """Append a row whose amounts (Decimal) and counts (int) stay numbers, formatted."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, bool):
            continue
        if isinstance(cell.value, Decimal | float):
            cell.number_format = MONEY_FORMAT
        elif isinstance(cell.value, int):
            cell.number_format = COUNT_FORMAT
        if bold:
            cell.font = Font(bold=True)


def xlsx_bytes(rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """Rows (the header first, in bold) as one sheet with numbers as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for index, row in enumerate(rows):
        append_row(sheet, row, bold=index == 0)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_name(*parts: str, extension: str, day: date | None = None) -> str:
    """``parte-parte-AAAA-MM-GG.ext``: the words slugified, in Italian whoever downloads."""
    day = day or timezone.localdate()
    with translation.override("it"):
        words = [slugify(str(part)) for part in parts if part]
    return "-".join([*filter(None, words), day.isoformat()]) + f".{extension}"


def read_rows(content: bytes, *, filename: str) -> list[dict[str, str]]:
    """Read the rows of a CSV (comma or semicolon) or XLSX file as dictionaries."""
    if filename.lower().endswith(".xlsx"):
        dataset = tablib.Dataset().load(content, format="xlsx")
    else:
        text = content.decode("utf-8-sig")
        first_line = text.splitlines()[0] if text else ""
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        dataset = tablib.Dataset().load(text, format="csv", delimiter=delimiter)
    headers = [str(h or "").strip().lower() for h in dataset.headers or []]
    return [
        {
            header: ("" if value is None else str(value).strip())
            for header, value in zip(headers, values, strict=False)
        }
        for values in dataset
    ]
