import io

import openpyxl
import pytest

from core.spreadsheets import read_rows as read_table
from tests.vouchers.test_programme import fiscal_code, open_call
from vouchers.models import Application, ProtocolCounter
from vouchers.services.imports import COLUMNS, applications_import

pytestmark = pytest.mark.django_db


def row(initiative, n, **overrides):
    code, birth, sex = fiscal_code(n)
    values = {
        "codice_fiscale": code,
        "nome": "Mario",
        "cognome": f"Rossi {n}",
        "data_nascita": birth.strftime("%d/%m/%Y"),
        "sesso": sex,
        "comune_istat": initiative.municipalities.get().istat_code,
        "isee": "4500,00",
        "dichiarazioni": "sì",
        "componenti": "",
    }
    values.update(overrides)
    return values


def csv_bytes(rows):
    lines = [";".join(COLUMNS)]
    for r in rows:
        lines.append(";".join(r.get(c, "") for c in COLUMNS))
    return "\n".join(lines).encode()


def test_csv_with_semicolons_imports_every_row_with_protocol_numbers():
    initiative = open_call()
    rows = read_table(csv_bytes([row(initiative, 1), row(initiative, 2)]), filename="a.csv")
    result = applications_import(initiative=initiative, rows=rows)
    assert result.errors == []
    assert [a.protocol_sequence for a in result.imported] == [1, 2]
    assert Application.objects.count() == 2


def test_one_bad_row_imports_nothing_and_names_the_row():
    initiative = open_call()
    rows = [
        row(initiative, 1),
        row(initiative, 2, codice_fiscale="RSSMRA80A01H501X"),
        row(initiative, 3, comune_istat="999999"),
    ]
    result = applications_import(initiative=initiative, rows=rows)
    assert result.imported == []
    assert [e.row for e in result.errors] == [3, 4]
    assert "fiscale" in result.errors[0].message.lower()
    assert "999999" in result.errors[1].message
    assert Application.objects.count() == 0
    assert not ProtocolCounter.objects.filter(last_number__gt=0).exists()


def test_xlsx_is_read_like_csv():
    initiative = open_call()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    sheet.append([row(initiative, 1).get(c, "") for c in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_table(buffer.getvalue(), filename="backlog.xlsx")
    assert applications_import(initiative=initiative, rows=rows).errors == []
    assert Application.objects.get().applicant.last_name == "Rossi 1"
