"""Reports of calls paid by transfer: reimbursements and cash contributions, approved or
granted and paid, each figure equal to what the ledger holds; the municipalities'
reconciliation keeps reimbursements and contributions in separate columns."""

import io
from decimal import Decimal

import pytest

from core.models import Journal, Posting
from core.selectors import account_balance, money_sum
from core.services.payments import (
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from reports.rendicontazione import funder_report, initiative_report
from reports.report import Dimension
from tests import factories
from tests.vouchers.test_cash_transfer import ranked_cash_call
from tests.vouchers.test_reimbursement_review import (
    CONFIRM,
    admin_url,
    agency_admin,
    claim_of,
    funded_application,
    ranked,
)
from vouchers.models import Initiative
from vouchers.services.beneficiary_payments import (
    beneficiary_payment_batch_prepare,
    initiative_transfer_matching,
)
from vouchers.services.issuing import initiative_issue
from vouchers.services.reimbursements import claim_decide, expense_review

pytestmark = pytest.mark.django_db
D = Decimal


def pay_everything(initiative: Initiative) -> None:
    result = beneficiary_payment_batch_prepare(initiative=initiative, prepared_by=factories.user())
    batch = payment_batch_release(batch=result.batch, released_by=factories.user())
    batch = payment_batch_export(batch=batch, out=io.BytesIO())
    payment_batch_mark_paid(batch=batch, by=factories.user())


def approve(application, *amounts: str):
    claim = claim_of(application, *amounts)
    reviewer = factories.user()
    for expense in claim.expenses.all():
        expense_review(expense=expense, decision="approved", reviewed_by=reviewer)
    return claim_decide(claim=claim, decided_by=reviewer)


def granted_in_ledger(initiative: Initiative, *kinds: str) -> Decimal:
    """What the ledger took from the call's budget in journals of these kinds."""
    return -money_sum(
        Posting.objects.filter(
            account__key=f"initiative:{initiative.pk}:budget", journal__kind__in=kinds
        )
    )


def paid_in_ledger(applications) -> Decimal:
    return sum(
        (account_balance(key=f"beneficiary:{a.applicant_id}:paid") for a in applications), D(0)
    )


@pytest.fixture
def reimbursement_call():
    """Two funded applicants: the first's claim (30.00) is approved and paid, the second's
    (12.34) approved and not yet paid."""
    first = funded_application(1)
    second = funded_application(2, initiative=first.initiative)
    ranked(first, second)
    approve(first, "20.00", "10.00")
    pay_everything(first.initiative)
    approve(second, "12.34")
    first.initiative.refresh_from_db()
    return first.initiative, [first, second]


@pytest.fixture
def cash_call():
    """Three contributions of 99.99 granted and paid."""
    initiative, applications = ranked_cash_call()
    assert initiative_issue(initiative=initiative) == 3
    pay_everything(initiative)
    initiative.refresh_from_db()
    for application in applications:
        application.refresh_from_db()
    return initiative, applications


def test_a_reimbursement_call_reports_what_was_approved_and_paid_as_the_ledger_says(
    reimbursement_call,
):
    initiative, applications = reimbursement_call
    report = initiative_report(initiative=initiative)
    keys = [column.key for column in report.columns]
    assert keys == ["allocated", "reimbursements_approved", "reimbursements_paid"]
    (row,) = report.rows
    approved = granted_in_ledger(initiative, Journal.Kind.REIMBURSEMENT_APPROVED)
    assert row.figures["reimbursements_approved"] == approved == D("42.34")
    assert row.figures["reimbursements_paid"] == paid_in_ledger(applications) == D("30.00")
    assert report.totals["reimbursements_approved"] == D("42.34")
    assert report.totals["reimbursements_paid"] == D("30.00")
    assert report.totals["allocated"] > 0


def test_a_cash_call_reports_what_was_granted_and_paid_as_the_ledger_says(cash_call):
    initiative, applications = cash_call
    report = initiative_report(initiative=initiative)
    keys = [column.key for column in report.columns]
    assert keys == ["allocated", "contributions_granted", "contributions_paid"]
    granted = granted_in_ledger(
        initiative, Journal.Kind.CASH_CONTRIBUTION, Journal.Kind.CASH_CONTRIBUTION_CANCELLED
    )
    assert report.totals["contributions_granted"] == granted == D("299.97")
    assert report.totals["contributions_paid"] == paid_in_ledger(applications) == D("299.97")
    payable = sum(
        (account_balance(key=f"beneficiary:{a.applicant_id}:payable") for a in applications),
        D(0),
    )
    assert payable == D("0.00")


@pytest.mark.parametrize("dimension", [Dimension.MUNICIPALITY, Dimension.WEEK])
def test_the_transfer_figures_add_up_by_municipality_and_by_week(reimbursement_call, dimension):
    initiative, _applications = reimbursement_call
    report = initiative_report(initiative=initiative, dimension=dimension)
    for key in ("reimbursements_approved", "reimbursements_paid"):
        assert sum((row.figures[key] for row in report.rows), D(0)) == report.totals[key]
    assert report.totals["reimbursements_paid"] == D("30.00")


def test_a_municipal_user_counts_only_his_residents_transfers(reimbursement_call):
    initiative, applications = reimbursement_call
    town = applications[0].municipality
    report = initiative_report(initiative=initiative, municipality_ids=frozenset({town.pk}))
    residents = [a for a in applications if a.municipality_id == town.pk]
    assert report.totals["reimbursements_paid"] == paid_in_ledger(residents)
    other = initiative_report(initiative=initiative, municipality_ids=frozenset({-1}))
    assert other.totals["reimbursements_approved"] == D("0.00")
    assert other.totals["reimbursements_paid"] == D("0.00")


def test_the_funders_report_shows_the_transfers_of_the_calls_he_financed(cash_call):
    initiative, _applications = cash_call
    funder = initiative.fund.contributions.first().funder
    report = funder_report(funder=funder)
    (row,) = [row for row in report.rows if row.key == initiative.pk]
    assert row.figures["contributions_paid"] == D("299.97")
    assert "contributions_paid" in [column.key for column in report.columns]


def test_the_reconciliation_keeps_contributions_out_of_reimbursements(cash_call):
    initiative, applications = cash_call
    (row,) = initiative_transfer_matching(initiative=initiative)
    assert row.paid_reimbursements == D("0.00")
    assert row.paid_cash_grants == paid_in_ledger(applications) == D("299.97")
    assert row.paid_out == D("299.97")


def test_the_reconciliation_counts_paid_reimbursements_from_the_ledger(reimbursement_call):
    initiative, applications = reimbursement_call
    rows = initiative_transfer_matching(initiative=initiative)
    assert sum((row.paid_reimbursements for row in rows), D(0)) == paid_in_ledger(applications)
    assert sum((row.paid_cash_grants for row in rows), D(0)) == D("0.00")


def test_the_reconciliation_page_has_a_column_for_each(client, cash_call):
    initiative, _applications = cash_call
    client.force_login(agency_admin())
    response = client.post(
        admin_url("incomingtransfer_matching"), {**CONFIRM, "initiative": initiative.pk}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Rimborsi pagati" in content and "Contributi pagati" in content
    # Contributions: 299,97 under their own column, nothing under reimbursements.
    cells = [cell.strip() for cell in content.split("<td")]
    assert any("299,97" in cell for cell in cells)
