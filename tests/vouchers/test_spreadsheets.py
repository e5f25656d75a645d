"""Exports open right in a spreadsheet: XLSX amounts and ISEE are numbers with a number
format; CSV in Italian is semicolon-separated with decimal commas (UTF-8 with BOM), in
English comma-separated with decimal points; file names are Italian words and the day."""

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from reports.report import Dimension
from tests.reports.test_reports import call, report_url  # noqa: F401 (the fixture)
from tests.vouchers.test_reimbursement_review import agency_admin, funded_application, ranked

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def ranked_application(client):
    application = funded_application(1, isee="8500.00")
    ranked(application)
    client.force_login(agency_admin())
    return application


def export(client, language: str, file_format: str):
    formats = {"csv": "0", "xlsx": "1"}
    return client.post(
        reverse("admin:vouchers_application_export"),
        {"format": formats[file_format], "resource": "0"},
        headers={"accept-language": language},
    )


def test_the_list_export_in_xlsx_keeps_amount_and_isee_as_numbers(client, ranked_application):
    response = export(client, "it", "xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    row = dict(zip(header, sheet[2], strict=True))
    for column, value in (("ISEE", "8500.00"), ("importo", "100.00")):
        cell = row[column]
        assert cell.data_type == "n", column
        assert D(str(cell.value)) == D(value)
        assert cell.number_format == "#,##0.00"
    assert row["posizione"].data_type == "n"


def test_the_list_export_in_csv_follows_the_readers_language(client, ranked_application):
    italian = export(client, "it", "csv")
    assert italian.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(italian.content.decode("utf-8-sig")), delimiter=";"))
    row = dict(zip(lines[0], lines[1], strict=True))
    assert row["ISEE"] == "8500,00" and row["importo"] == "100,00"
    english = export(client, "en", "csv")
    lines = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert len(lines[0]) > 5  # columns, not one
    assert "8500.00" in lines[1]


def test_the_list_export_has_an_italian_file_name(client, ranked_application):
    response = export(client, "en", "xlsx")
    today = timezone.localdate().isoformat()
    assert f'filename="domande-{today}.xlsx"' in response["Content-Disposition"]


def test_the_report_file_names_are_italian_with_the_call_and_the_day(client, call):  # noqa: F811
    client.force_login(agency_admin())
    call["initiative"].title = "Buoni spesa Natale"
    call["initiative"].save(update_fields=["title"])
    today = timezone.localdate().isoformat()
    by_initiative = client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.INITIATIVE, formato="xlsx")
    )
    assert (
        f'"rendicontazione-bando-buoni-spesa-natale-{today}.xlsx"'
        in (by_initiative["Content-Disposition"])
    )
    by_town = client.get(
        report_url(
            initiative=call["initiative"].pk, dimension=Dimension.MUNICIPALITY, formato="csv"
        ),
        headers={"accept-language": "en"},
    )
    name = re.search(r'filename="([^"]+)"', by_town["Content-Disposition"]).group(1)
    assert name == f"rendicontazione-bando-buoni-spesa-natale-per-comune-{today}.csv"


def test_the_report_csv_opens_in_columns_in_an_italian_spreadsheet(client, call):  # noqa: F811
    client.force_login(agency_admin())
    response = client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.SHOP, formato="csv"),
        headers={"accept-language": "it"},
    )
    assert response.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    header = lines[0]
    rows = {line[0]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert rows["Totale"]["Speso"] == "140,00"
    assert rows[call["grocer"].name]["Speso"] == "70,00"
