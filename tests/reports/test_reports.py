"""Reports (rendicontazione): figures by hand on a small call, totals that reconcile, the
admin page with its CSV, XLSX and PDF downloads, and who may see which call.

The call: €100 vouchers for two residents of A and one of B. In A, the first spends 30 at
the grocer and 20 at the shop that sells both food and medicines; the second spends 50 at
the chemist, and 10 at the grocer that the cashier voids; his voucher then expires (50 back).
In B the holder spends 40 at the grocer and his voucher is revoked (60 back). The grocer is
settled (70) and paid; the chemist is settled (50) and not yet paid.
"""

import csv
import io
import itertools
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pypdfium2
import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Contribution, Organization, Role
from core.roles import membership_grant
from core.services.payments import (
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from merchants.models import Merchant, Redemption
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlement_create
from merchants.services.tills import Till
from merchants.services.voids import redemption_void
from reports.rendicontazione import funder_report, initiative_report
from reports.report import Dimension, Period, week_start
from reports.scope import ReportScope, report_scope
from reports.shops import shop_categories
from tests import factories
from vouchers.models import Initiative, Voucher
from vouchers.selectors.scope import staff_scope
from vouchers.services.expiry import voucher_expire, voucher_revoke

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
D = Decimal
REPORT_URL = "admin-reports"


def spend(voucher: Voucher, shop: Merchant, amount: str, cashier=None) -> Redemption:
    cashier = cashier or factories.cashier(shop=shop)
    return voucher_redeem(
        till=Till(merchant=shop, user=cashier),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"report-{next(_keys)}",
    ).redemption


def staff(role: str, organization: Organization):
    person = factories.user()
    membership_grant(user=person, organization=organization, role=role)
    return person


@pytest.fixture
def call():
    a = factories.municipality(name="Comune A")
    b = factories.municipality(name="Comune B")
    food = factories.category(slug="alimentari")
    medicines = factories.category(slug="farmacia")
    initiative = factories.initiative(
        municipalities=[a, b], categories=[food, medicines], budget="10000.00"
    )
    grocer = factories.merchant(initiative=initiative, categories=[food])
    both = factories.merchant(initiative=initiative, categories=[medicines, food])
    chemist = factories.merchant(initiative=initiative, categories=[medicines])
    first = factories.voucher(initiative=initiative, holder=factories.beneficiary(municipality=a))
    second = factories.voucher(initiative=initiative, holder=factories.beneficiary(municipality=a))
    third = factories.voucher(initiative=initiative, holder=factories.beneficiary(municipality=b))

    spend(first, grocer, "30.00")
    spend(first, both, "20.00")
    spend(second, chemist, "50.00")
    cashier = factories.cashier(shop=grocer)
    mistake = spend(second, grocer, "10.00", cashier=cashier)
    redemption_void(till=Till(merchant=grocer, user=cashier), redemption_id=mistake.pk)
    voucher_expire(voucher=second, today=second.valid_until + timedelta(days=1))
    spend(third, grocer, "40.00")
    voucher_revoke(voucher=third, reason="Trasferito in altro comune")

    paid = settlement_create(merchant=grocer)
    settlement_create(merchant=chemist)
    batch = merchant_payment_batch_prepare(settlements=[paid], prepared_by=factories.user())
    payment_batch_release(batch=batch, released_by=factories.user())
    payment_batch_export(batch=batch, out=io.BytesIO())
    payment_batch_mark_paid(batch=batch, by=factories.user())
    return {
        "initiative": initiative,
        "a": a,
        "b": b,
        "food": food,
        "medicines": medicines,
        "grocer": grocer,
        "both": both,
        "chemist": chemist,
    }


def by_label(report) -> dict[str, dict]:
    return {row.label: row.figures for row in report.rows}


# --- figures -------------------------------------------------------------------------------


def test_the_call_row_has_the_figures_computed_by_hand(call):
    report = initiative_report(initiative=call["initiative"], dimension=Dimension.INITIATIVE)
    assert len(report.rows) == 1
    figures = report.rows[0].figures
    assert figures == report.totals
    assert figures == {
        "allocated": D("10000.00"),
        "issued": D("300.00"),
        "vouchers": 3,
        "beneficiaries": 3,
        "redeemed": D("140.00"),  # the voided 10 is not counted
        "redemptions": 4,
        "expired": D("50.00"),
        "revoked": D("60.00"),
        "settled": D("120.00"),
        "paid": D("70.00"),
    }


def test_by_municipality_each_town_counts_its_residents(call):
    rows = by_label(
        initiative_report(initiative=call["initiative"], dimension=Dimension.MUNICIPALITY)
    )
    assert rows["Comune A"] == {
        "issued": D("200.00"),
        "vouchers": 2,
        "beneficiaries": 2,
        "redeemed": D("100.00"),
        "redemptions": 3,
        "expired": D("50.00"),
        "revoked": D("0.00"),
        "settled": D("80.00"),
        "paid": D("30.00"),
    }
    assert rows["Comune B"] == {
        "issued": D("100.00"),
        "vouchers": 1,
        "beneficiaries": 1,
        "redeemed": D("40.00"),
        "redemptions": 1,
        "expired": D("0.00"),
        "revoked": D("60.00"),
        "settled": D("40.00"),
        "paid": D("40.00"),
    }


def test_by_shop_and_by_category(call):
    shops = by_label(initiative_report(initiative=call["initiative"], dimension=Dimension.SHOP))
    assert shops[call["grocer"].name] == {
        "redeemed": D("70.00"),
        "redemptions": 2,
        "spenders": 2,
        "settled": D("70.00"),
        "paid": D("70.00"),
    }
    assert shops[call["both"].name]["redeemed"] == D("20.00")
    assert shops[call["both"].name]["settled"] == D("0.00")
    assert shops[call["chemist"].name]["settled"] == D("50.00")
    assert shops[call["chemist"].name]["paid"] == D("0.00")

    # The shop selling both counts under the first allowed category by name: Alimentari.
    assert shop_categories(initiative_ids=[call["initiative"].pk])[call["both"].pk] == (
        call["food"].pk
    )
    categories = by_label(
        initiative_report(initiative=call["initiative"], dimension=Dimension.CATEGORY)
    )
    assert categories["Alimentari"]["redeemed"] == D("90.00")
    assert categories["Alimentari"]["shops"] == 2
    assert categories["Farmacia"] == {
        "redeemed": D("50.00"),
        "redemptions": 1,
        "spenders": 1,
        "shops": 1,
        "settled": D("50.00"),
        "paid": D("0.00"),
    }


@pytest.mark.parametrize(
    "dimension",
    [Dimension.MUNICIPALITY, Dimension.SHOP, Dimension.CATEGORY, Dimension.WEEK],
)
def test_every_dimension_adds_up_to_the_call_total(call, dimension):
    total = initiative_report(initiative=call["initiative"], dimension=Dimension.INITIATIVE).totals
    report = initiative_report(initiative=call["initiative"], dimension=dimension)
    for column in report.columns:
        if column.key in {"beneficiaries", "spenders", "shops"}:
            continue  # distinct people and shops do not add up
        summed = sum(row.figures[column.key] for row in report.rows)
        assert summed == report.totals[column.key] == total[column.key], column.key


def test_issued_is_spent_plus_returned_plus_what_vouchers_still_hold(call):
    rows = initiative_report(initiative=call["initiative"], dimension=Dimension.MUNICIPALITY).rows
    for row in rows:
        holding = sum(
            voucher.balance
            for voucher in Voucher.objects.filter(beneficiary__municipality__name=row.label)
        )
        figures = row.figures
        assert figures["issued"] == (
            figures["redeemed"] + figures["expired"] + figures["revoked"] + holding
        )


def test_weeks_are_iso_weeks_in_rome_and_the_period_filters(call):
    report = initiative_report(initiative=call["initiative"], dimension=Dimension.WEEK)
    monday = week_start(timezone.now())
    assert [row.key for row in report.rows] == [monday]
    assert report.rows[0].label.startswith(f"{monday.isocalendar()[0]}-W")

    past = Period(start=monday - timedelta(days=14), end=monday - timedelta(days=1))
    empty = initiative_report(
        initiative=call["initiative"], dimension=Dimension.INITIATIVE, period=past
    )
    assert empty.rows == []
    assert empty.totals["issued"] == D("0.00")
    assert empty.totals["redemptions"] == 0

    today = Period(start=timezone.localdate(), end=timezone.localdate())
    same = initiative_report(
        initiative=call["initiative"], dimension=Dimension.INITIATIVE, period=today
    )
    assert same.totals["redeemed"] == D("140.00")


def test_a_municipal_report_counts_only_the_users_residents(call):
    report = initiative_report(
        initiative=call["initiative"],
        dimension=Dimension.SHOP,
        municipality_ids=frozenset([call["b"].pk]),
    )
    assert by_label(report) == {
        call["grocer"].name: {
            "redeemed": D("40.00"),
            "redemptions": 1,
            "spenders": 1,
            "settled": D("40.00"),
            "paid": D("40.00"),
        }
    }


def test_a_funder_report_lists_the_calls_his_contributions_financed(call):
    funder = Contribution.objects.get(fund=call["initiative"].fund).funder
    elsewhere = factories.initiative()
    report = funder_report(funder=funder)
    assert [row.key for row in report.rows] == [call["initiative"].pk]
    assert report.rows[0].label == call["initiative"].title
    assert report.totals["redeemed"] == D("140.00")
    assert elsewhere.pk not in {row.key for row in report.rows}


def test_report_scopes(call):
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    other = factories.initiative(municipalities=[call["b"]])

    def scope_of(person) -> ReportScope:
        return report_scope(user=person, scope=staff_scope(user=person))

    everything = scope_of(staff(Role.AGENCY_ADMIN, agency))
    assert everything.municipality_ids is None
    assert set(everything.initiatives) >= {call["initiative"], other}

    in_a = scope_of(staff(Role.PROGRAMME_MANAGER, call["a"]))
    assert set(in_a.initiatives) == {call["initiative"]}
    assert in_a.municipality_ids == frozenset([call["a"].pk])

    funder = Contribution.objects.get(fund=call["initiative"].fund).funder
    as_funder = scope_of(staff(Role.FUNDER, funder))
    assert set(as_funder.initiatives) == {call["initiative"]}
    assert not as_funder.shops_visible

    assert not scope_of(factories.user(is_staff=True)).allowed


# --- the admin page --------------------------------------------------------------------------


def report_url(**params) -> str:
    from urllib.parse import urlencode

    return f"{reverse(REPORT_URL)}?{urlencode(params)}"


@pytest.fixture
def agency_client(client, call):
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    client.force_login(staff(Role.AGENCY_ADMIN, agency))
    return client


def test_the_page_shows_the_form_then_the_table_with_totals(agency_client, call):
    response = agency_client.get(reverse(REPORT_URL))
    assert response.status_code == 200
    assert "Rendicontazione" in response.content.decode()

    response = agency_client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.MUNICIPALITY)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Comune A" in page and "Comune B" in page
    assert "Totale" in page
    assert "140,00" in page
    assert "formato=xlsx" in page


def test_bad_input_is_a_form_error_not_a_500(agency_client, call):
    response = agency_client.get(
        report_url(
            initiative=call["initiative"].pk,
            dimension="nonsense",
            date_from="2026-02-10",
            date_to="2026-02-01",
        )
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["report"] is None

    response = agency_client.get(
        report_url(initiative="abc", dimension=Dimension.INITIATIVE, formato="pdf")
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "initiative" in response.context["form"].errors


def test_csv_download(agency_client, call):
    response = agency_client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.SHOP, formato="csv")
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = lines[0]
    assert header[0] == "Negozio"
    rows = {line[0]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert rows[call["grocer"].name]["Speso"] == "70,00"
    assert rows["Totale"]["Speso"] == "140,00"
    assert rows["Totale"]["Pagato"] == "70,00"


def test_xlsx_download(agency_client, call):
    response = agency_client.get(
        report_url(
            initiative=call["initiative"].pk, dimension=Dimension.MUNICIPALITY, formato="xlsx"
        )
    )
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    header_index = next(i for i, row in enumerate(values) if row[0] == "Comune")
    header = values[header_index]
    data = {row[0]: dict(zip(header, row, strict=True)) for row in values[header_index + 1 :]}
    assert D(str(data["Comune A"]["Emesso"])) == D("200.00")
    assert data["Comune B"]["Buoni emessi"] == 1
    assert D(str(data["Totale"]["Speso"])) == D("140.00")


def test_pdf_download(agency_client, call):
    response = agency_client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.CATEGORY, formato="pdf")
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(response.content)
    try:
        page = document[0]
        width, height = page.get_size()
        assert width > height  # A4 landscape
        text = page.get_textpage().get_text_range()
    finally:
        document.close()
    assert "Rendicontazione per categoria" in text
    assert call["initiative"].title in text
    assert "Alimentari" in text
    assert "Pagina 1 di 1" in text


def test_a_municipal_user_of_b_cannot_get_the_report_of_a_call_of_a(client, call):
    only_a = factories.initiative(municipalities=[call["a"]])
    factories.voucher(initiative=only_a)
    client.force_login(staff(Role.PROGRAMME_MANAGER, call["b"]))

    for formato in ("", "csv", "xlsx", "pdf"):
        response = client.get(
            report_url(initiative=only_a.pk, dimension=Dimension.INITIATIVE, formato=formato)
        )
        assert response.status_code in (200, 403)
        assert response["Content-Type"].startswith("text/html")
        if response.status_code == 200:
            assert "initiative" in response.context["form"].errors
            assert response.context["report"] is None

    # The joint call is his, but he counts only B's residents.
    response = client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.MUNICIPALITY)
    )
    assert [row.label for row in response.context["report"].rows] == ["Comune B"]


def test_a_funder_gets_no_shop_list(client, call):
    funder = Contribution.objects.get(fund=call["initiative"].fund).funder
    client.force_login(staff(Role.FUNDER, funder))
    response = client.get(report_url(initiative=call["initiative"].pk, dimension=Dimension.SHOP))
    assert response.status_code == 200
    assert "dimension" in response.context["form"].errors
    response = client.get(report_url(funder=funder.pk, dimension=Dimension.FUNDER))
    assert response.context["report"].totals["redeemed"] == D("140.00")


def test_staff_without_a_reporting_role_are_refused(client, call):
    client.force_login(factories.user(is_staff=True))
    assert client.get(reverse(REPORT_URL)).status_code == 403


def test_draft_calls_are_reported_too_for_the_agency(agency_client, call):
    Initiative.objects.filter(pk=call["initiative"].pk).update(status=Initiative.Status.DRAFT)
    response = agency_client.get(
        report_url(initiative=call["initiative"].pk, dimension=Dimension.INITIATIVE)
    )
    assert response.context["report"].totals["issued"] == D("300.00")


@pytest.mark.parametrize("day", ["01/01/0001", "31/12/9999", "01/01/1899"])
def test_a_day_outside_the_platforms_years_is_a_form_error(agency_client, call, day):
    for field in ("date_from", "date_to"):
        response = agency_client.get(
            report_url(
                initiative=call["initiative"].pk, dimension=Dimension.MUNICIPALITY, **{field: day}
            )
        )
        assert response.status_code == 200
        assert "Scegli un giorno tra il 01/01/2000 e il 31/12/2099." in str(
            response.context["form"].errors[field]
        )
