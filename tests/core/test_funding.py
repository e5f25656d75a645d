from datetime import date, timedelta
from decimal import Decimal

import pypdfium2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import Contribution, LoyaltyPointsLine, Organization
from core.selectors import fund_balance
from core.services.funding import (
    ContributionError,
    contribution_register,
    loyalty_amount,
    loyalty_points_import,
)
from core.services.receipts import donation_receipt_pdf, euro_in_words, integer_in_words
from core.spreadsheets import read_rows
from tests import factories

pytestmark = pytest.mark.django_db
D = Decimal
VALID_CODE = "RSSMRA80A01H501U"


def donations() -> Organization:
    return Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name="Donazioni dei cittadini",
        funder_kind=Organization.FunderKind.DONATIONS,
    )


def retailer() -> Organization:
    return Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name="Supermercati Amici",
        funder_kind=Organization.FunderKind.RETAILER,
    )


def donate(fund, donors, amount="50.00", received_on=None, **extra):
    return contribution_register(
        fund=fund,
        funder=donors,
        amount=amount,
        received_on=received_on or timezone.localdate(),
        donor_name=extra.pop("donor_name", "Maria Bianchi"),
        **extra,
    )


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(content)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


# --- donations -----------------------------------------------------------------------------


def test_donations_get_receipt_numbers_progressive_per_year():
    fund, donors = factories.fund(amount="0"), donations()
    last_year = date(timezone.localdate().year - 1, 12, 31)
    first = donate(fund, donors)
    second = donate(fund, donors, donor_fiscal_code=VALID_CODE.lower())
    old = donate(fund, donors, received_on=last_year)
    assert (first.receipt_year, first.receipt_number) == (timezone.localdate().year, 1)
    assert second.receipt_number == 2
    assert second.donor_fiscal_code == VALID_CODE
    assert (old.receipt_year, old.receipt_number) == (last_year.year, 1)
    assert fund_balance(fund_id=fund.pk) == D("150.00")


def test_a_donation_without_a_donor_or_with_a_bad_code_records_nothing():
    fund, donors = factories.fund(amount="0"), donations()
    with pytest.raises(ContributionError) as error:
        donate(fund, donors, donor_name="  ")
    assert error.value.code == "donor_required"
    with pytest.raises(ContributionError) as error:
        donate(fund, donors, donor_fiscal_code="RSSMRA80A01H501X")
    assert error.value.code == "invalid_donor_code"
    assert "codice fiscale" in error.value.detail.lower()
    assert not Contribution.objects.filter(fund=fund).exists()
    assert fund_balance(fund_id=fund.pk) == D("0.00")


def test_other_funders_record_their_act_but_no_donor():
    fund, regional = factories.fund(amount="0"), factories.funder()
    regional.funder_kind = Organization.FunderKind.REGIONAL
    regional.save()
    contribution = contribution_register(
        fund=fund,
        funder=regional,
        amount="1000.00",
        received_on=timezone.localdate(),
        document_reference="DGR 123/2026 · CUP J41H26000010002",
    )
    assert contribution.receipt_number is None
    assert contribution.document_reference.startswith("DGR 123/2026")
    with pytest.raises(ContributionError) as error:
        contribution_register(
            fund=fund,
            funder=regional,
            amount="1.00",
            received_on=timezone.localdate(),
            donor_name="Qualcuno",
        )
    assert error.value.code == "donor_only_for_donations"
    with pytest.raises(ContributionError) as error:
        contribution_register(
            fund=fund,
            funder=regional,
            amount="1.00",
            received_on=timezone.localdate() + timedelta(days=1),
        )
    assert error.value.code == "future_date"


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (1, "uno"),
        (21, "ventuno"),
        (23, "ventitré"),
        (100, "cento"),
        (108, "centootto"),
        (188, "centottantotto"),
        (1000, "mille"),
        (1003, "milletré"),
        (2021, "duemilaventuno"),
        (17_538, "diciassettemilacinquecentotrentotto"),
        (1_000_000, "unmilione"),
        (2_300_000, "duemilionitrecentomila"),
    ],
)
def test_integer_in_italian_words(number, words):
    assert integer_in_words(number) == words


def test_euro_in_words_as_on_a_receipt():
    assert euro_in_words(D("123.45")) == "centoventitré/45"
    assert euro_in_words(D("50.00")) == "cinquanta/00"


def test_the_receipt_pdf_names_donor_amount_fund_and_agency(settings):
    settings.AGENCY_DEBTOR_NAME = "Agenzia Città Solidale"
    fund = factories.fund(amount="0")
    gift = donate(
        fund,
        donations(),
        amount="123.45",
        donor_fiscal_code=VALID_CODE,
        purpose="Spesa solidale 2026",
    )
    text = pdf_text(donation_receipt_pdf(contribution=gift))
    assert f"Ricevuta di donazione n. {gift.receipt_label}" in text
    assert "Maria Bianchi" in text and VALID_CODE in text
    assert "€ 123,45" in text
    assert "euro centoventitré/45" in text
    assert fund.name in text and "Spesa solidale 2026" in text
    assert "Agenzia Città Solidale" in text


def test_no_receipt_for_a_contribution_that_is_not_a_donation():
    contribution = factories.fund().contributions.get()
    with pytest.raises(ContributionError) as error:
        donation_receipt_pdf(contribution=contribution)
    assert error.value.code == "not_a_donation"


# --- loyalty points ------------------------------------------------------------------------

CSV = b"data;punto_vendita;punti\n2026-01-10;Negozio Centro;1234\n15/01/2026;Negozio Mare;3\n"


def import_points(content=CSV, rate="0.0125", funder=None, fund=None):
    return loyalty_points_import(
        fund=fund or factories.fund(amount="0"),
        funder=funder or retailer(),
        rows=read_rows(content, filename="punti.csv"),
        rate=rate,
        received_on=timezone.localdate(),
        document_reference="Convenzione 7/2026",
        content=content,
    )


def test_loyalty_points_become_one_contribution_rounded_half_up_on_the_total():
    result = import_points()
    # 1,237 points × €0.0125 = €15.4625 → €15.46 (each row rounded would give 15.43 + 0.04).
    assert result.errors == [] and result.total_points == 1237
    assert result.amount == D("15.46")
    contribution = result.contribution
    assert contribution.amount == D("15.46")
    assert (contribution.loyalty_points, contribution.loyalty_rate) == (1237, D("0.0125"))
    assert fund_balance(fund_id=contribution.fund_id) == D("15.46")
    lines = list(LoyaltyPointsLine.objects.filter(contribution=contribution))
    assert [(line.row_number, line.store_reference, line.points) for line in lines] == [
        (2, "Negozio Centro", 1234),
        (3, "Negozio Mare", 3),
    ]
    assert lines[1].earned_on == date(2026, 1, 15)


def test_half_a_cent_rounds_up():
    assert loyalty_amount(points=1, rate=D("0.005")) == D("0.01")
    assert loyalty_amount(points=3, rate=D("0.001665")) == D("0.00")
    assert loyalty_amount(points=7, rate=D("0.335")) == D("2.35")


def test_bad_rows_change_nothing_and_are_listed():
    fund = factories.fund(amount="0")
    content = (
        b"data,punto_vendita,punti\n"
        b"2026-01-10,Negozio Centro,100\n"
        b"31/02/2026,Negozio Mare,5\n"
        b"2026-01-11,,-3\n"
    )
    result = import_points(content=content, fund=fund)
    assert result.contribution is None
    assert [error.row for error in result.errors] == [3, 4]
    assert "data non valida" in result.errors[0].message
    assert "punto vendita" in result.errors[1].message and "punti" in result.errors[1].message
    assert not Contribution.objects.filter(fund=fund).exists()
    assert not LoyaltyPointsLine.objects.exists()
    assert fund_balance(fund_id=fund.pk) == D("0.00")


@pytest.mark.parametrize("rate", ["0", "-1", "abc", "0.0000001", "NaN"])
def test_a_bad_rate_is_refused(rate):
    with pytest.raises(ContributionError) as error:
        import_points(rate=rate)
    assert error.value.code == "invalid_rate"
    assert not Contribution.objects.filter(loyalty_points__isnull=False).exists()


def test_the_same_file_is_not_imported_twice():
    shop_programme, fund = retailer(), factories.fund(amount="0")
    import_points(funder=shop_programme, fund=fund)
    with pytest.raises(ContributionError) as error:
        import_points(funder=shop_programme, fund=fund)
    assert error.value.code == "already_imported"
    assert fund_balance(fund_id=fund.pk) == D("15.46")


def test_points_only_from_a_retailers_programme_and_with_the_columns():
    with pytest.raises(ContributionError) as error:
        import_points(funder=factories.funder())
    assert error.value.code == "not_a_retailer"
    with pytest.raises(ContributionError) as error:
        import_points(content=b"data,negozio,quantita\n2026-01-10,A,3\n")
    assert error.value.code == "missing_columns"
    assert "punti" in error.value.detail


# --- admin ---------------------------------------------------------------------------------


@pytest.fixture
def agency_client(client):
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    return client


def test_admin_records_a_donation_and_downloads_its_receipt(agency_client):
    fund, donors = factories.fund(amount="0"), donations()
    response = agency_client.post(
        reverse("admin:core_contribution_add"),
        {
            "fund": fund.pk,
            "funder": donors.pk,
            "amount": "25.00",
            "received_on": timezone.localdate().strftime("%d/%m/%Y"),
            "document_reference": "",
            "purpose": "Per le famiglie",
            "donor_name": "Luca Verdi",
            "donor_fiscal_code": "",
            "donor_address": "Via Po 3, Torino",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    gift = Contribution.objects.get(fund=fund)
    assert gift.donor_name == "Luca Verdi" and gift.receipt_number == 1
    receipt = agency_client.get(reverse("admin:core_contribution_download_receipt", args=[gift.pk]))
    assert receipt.status_code == 200
    assert receipt["Content-Type"] == "application/pdf"
    assert "Luca Verdi" in pdf_text(receipt.content)


def test_admin_form_asks_a_donation_for_its_donor(agency_client):
    fund = factories.fund(amount="0")
    response = agency_client.post(
        reverse("admin:core_contribution_add"),
        {
            "fund": fund.pk,
            "funder": donations().pk,
            "amount": "25.00",
            "received_on": timezone.localdate().strftime("%d/%m/%Y"),
        },
    )
    assert response.status_code == 200
    assert "indica il nome del donatore" in response.content.decode()
    assert not Contribution.objects.filter(fund=fund).exists()


def test_admin_loyalty_import_shows_bad_rows_and_records_good_files(agency_client):
    fund, programme = factories.fund(amount="0"), retailer()
    url = reverse("admin:core_contribution_import_loyalty_points")
    assert agency_client.get(url).status_code == 200

    def post(content: bytes, rate="0,01"):
        return agency_client.post(
            url,
            {
                "confirm": "yes",
                "fund": fund.pk,
                "funder": programme.pk,
                "rate": rate,
                "received_on": timezone.localdate().strftime("%d/%m/%Y"),
                "document_reference": "Convenzione 7/2026",
                "file": SimpleUploadedFile("punti.csv", content, content_type="text/csv"),
            },
        )

    bad = post(b"data,punto_vendita,punti\n2026-01-10,Centro,dieci\n")
    assert bad.status_code == 200
    assert "punti non validi" in bad.content.decode()
    assert not Contribution.objects.filter(fund=fund).exists()
    wrong_rate = post(CSV, rate="zero")
    assert "Valore del punto non valido" in wrong_rate.content.decode()
    good = post(CSV)
    assert good.status_code == 302
    points = Contribution.objects.get(fund=fund)
    assert points.amount == D("12.37")
    detail = agency_client.get(reverse("admin:core_contribution_change", args=[points.pk]))
    assert detail.status_code == 200
    assert "1237 punti" in detail.content.decode()
    assert agency_client.get(reverse("admin:core_contribution_changelist")).status_code == 200
