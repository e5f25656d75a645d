"""The double-entry ledger, contributions and euro amounts."""

from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError
from core.models import Account, Contribution, Journal, Organization, Posting
from core.money import InvalidAmount, euro, format_euro, positive_euro
from core.selectors import account_balance, fund_balance, unbalanced_journals
from core.services.funding import FundError
from core.services.funding import _contribution_record as contribution_record
from core.services.ledger import LedgerError, Line, journal_post
from tests import factories


def line(key: str, amount: str) -> Line:
    return Line(key, Decimal(amount), Account.Kind.FUND, key)


def ledger_counts() -> tuple[int, int, int]:
    return Journal.objects.count(), Posting.objects.count(), Account.objects.count()


# --- journal_post ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_journal_post_records_balanced_lines_and_creates_their_accounts():
    journal = journal_post(
        kind=Journal.Kind.CONTRIBUTION,
        lines=[line("a", "-10.00"), line("b", "7.50"), line("c", "2.50")],
        memo="test",
    )
    assert journal.postings.count() == 3
    assert account_balance(key="a") == Decimal("-10.00")
    assert account_balance(key="c") == Decimal("2.50")
    assert Account.objects.get(key="b").kind == Account.Kind.FUND
    assert not unbalanced_journals().exists()


@pytest.mark.django_db
def test_journal_post_reuses_existing_accounts():
    journal_post(kind=Journal.Kind.CONTRIBUTION, lines=[line("a", "-1.00"), line("b", "1.00")])
    journal_post(kind=Journal.Kind.CONTRIBUTION, lines=[line("a", "-2.00"), line("b", "2.00")])
    assert Account.objects.filter(key__in=["a", "b"]).count() == 2
    assert account_balance(key="b") == Decimal("3.00")


@pytest.mark.django_db
def test_balances_of_many_cents_add_up_exactly_to_zero():
    # SQLite adds decimals as floats: 0.10 + 0.20 - 0.30 must still be exactly zero.
    journal_post(
        kind=Journal.Kind.CONTRIBUTION,
        lines=[line("x", "0.10"), line("x", "0.20"), line("y", "-0.30")],
    )
    for _ in range(3):
        journal_post(kind=Journal.Kind.CONTRIBUTION, lines=[line("x", "-0.10"), line("y", "0.10")])
    assert account_balance(key="x") == Decimal("0.00")
    assert account_balance(key="y") == Decimal("0.00")
    assert not unbalanced_journals().exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amounts", "code"),
    [
        (["-10.00", "9.99"], "unbalanced_journal"),
        (["10.00"], "unbalanced_journal"),
        ([], "unbalanced_journal"),
        (["0.00", "0.00"], "invalid_posting"),
        (["-5.00", "0", "5.00"], "invalid_posting"),
        (["-0.005", "0.005"], "invalid_posting"),
        (["-1.001", "1.001"], "invalid_posting"),
    ],
)
def test_journal_post_refuses_bad_lines_and_writes_nothing(amounts, code):
    before = ledger_counts()
    with pytest.raises(LedgerError) as refused:
        journal_post(
            kind=Journal.Kind.CONTRIBUTION,
            lines=[line(f"acct-{n}", amount) for n, amount in enumerate(amounts)],
        )
    assert refused.value.code == code
    assert ledger_counts() == before


@pytest.mark.django_db
def test_unbalanced_journals_finds_a_journal_broken_behind_the_services_back():
    journal = journal_post(
        kind=Journal.Kind.CONTRIBUTION, lines=[line("a", "-1.00"), line("b", "1.00")]
    )
    Posting.objects.filter(journal=journal, amount=Decimal("1.00")).update(amount=Decimal("0.99"))
    assert list(unbalanced_journals()) == [journal]


# --- contribution_record ---------------------------------------------------------------------


@pytest.mark.django_db
def test_contribution_puts_money_in_the_fund_from_the_funders_source():
    fund = factories.fund(amount="0")
    giver = factories.funder()
    contribution = contribution_record(
        fund=fund,
        funder=giver,
        amount="1500,50",
        received_on=timezone.localdate(),
        document_reference="Delibera 12/2026",
    )
    assert contribution.amount == Decimal("1500.50")
    assert fund_balance(fund_id=fund.pk) == Decimal("1500.50")
    assert account_balance(key=f"funder:{giver.pk}:source") == Decimal("-1500.50")
    assert contribution.journal.kind == Journal.Kind.CONTRIBUTION
    assert not unbalanced_journals().exists()


@pytest.mark.django_db
def test_a_municipality_may_contribute_to_a_fund():
    fund = factories.fund(amount="0")
    contribution_record(
        fund=fund,
        funder=factories.municipality(),
        amount="100.00",
        received_on=timezone.localdate(),
    )
    assert fund_balance(fund_id=fund.pk) == Decimal("100.00")


@pytest.mark.django_db
def test_a_contribution_from_an_agency_is_refused_with_not_a_funder():
    fund = factories.fund(amount="0")
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    before = ledger_counts()
    with pytest.raises(FundError) as refused:
        contribution_record(
            fund=fund, funder=agency, amount="10.00", received_on=timezone.localdate()
        )
    assert refused.value.code == "not_a_funder"
    assert ledger_counts() == before
    assert not Contribution.objects.filter(fund=fund).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0", "-10.00", "10.001", "dieci"])
def test_a_contribution_that_is_not_a_positive_euro_amount_is_refused(amount):
    fund = factories.fund(amount="0")
    before = ledger_counts()
    with pytest.raises(InvalidAmount):
        contribution_record(
            fund=fund, funder=factories.funder(), amount=amount, received_on=timezone.localdate()
        )
    assert ledger_counts() == before


# --- Money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", "12.50"),
        ("12,50", "12.50"),
        (" 7 ", "7.00"),
        (5, "5.00"),
        (Decimal("3.1"), "3.10"),
        ("-4.20", "-4.20"),
        ("0", "0.00"),
    ],
)
def test_euro_parses_text_integers_and_decimals_to_two_places(value, expected):
    assert euro(value) == Decimal(expected)
    assert str(euro(value)) == expected


@pytest.mark.parametrize("value", [1.5, 0.1, 100.0, True, False])
def test_euro_refuses_floats_and_booleans(value):
    with pytest.raises(InvalidAmount):
        euro(value)


@pytest.mark.parametrize(
    "value", ["1.234", "0.001", "abc", "", "NaN", "Infinity", "-inf", "1e400", "1e30", "1.2.3"]
)
def test_euro_refuses_text_that_is_not_a_sum_in_cents(value):
    with pytest.raises(InvalidAmount):
        euro(value)


@pytest.mark.parametrize("value", ["0", "0.00", "-0.01"])
def test_positive_euro_refuses_zero_and_negative_amounts(value):
    with pytest.raises(InvalidAmount):
        positive_euro(value)


def test_positive_euro_accepts_one_cent():
    assert positive_euro("0.01") == Decimal("0.01")


def test_format_euro_writes_italian_thousands_and_decimals():
    assert format_euro(Decimal("1234.5")) == "€ 1.234,50"


def test_a_domain_error_fills_its_message_with_the_given_values():
    class SampleError(DomainError):
        messages = {"too_much": "Massimo %(limit)s."}

    error = SampleError("too_much", limit="€ 5,00")
    assert (error.code, error.detail) == ("too_much", "Massimo € 5,00.")
    assert SampleError("unknown").detail == str(DomainError.default_message)
