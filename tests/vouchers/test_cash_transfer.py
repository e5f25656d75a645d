"""Cash contributions: granted when the call issues, paid by SEPA transfer, to the ledger."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from core.models import Fund, Journal, PaymentBatch
from core.selectors import account_balance, unbalanced_journals
from core.sepa import NAMESPACE, validate_pain001
from core.services.ledger import fund_account_line, journal_post
from core.services.payments import (
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from core.services.reconciliation import payment_batch_reconcile_camt054
from tests import factories
from tests.core.test_sepa import camt054, transfer_entry
from tests.vouchers.test_programme import applicant, open_call
from tests.vouchers.test_reimbursement_review import claim_of
from tests.vouchers.test_reimbursement_review import funded_application as reimbursement_app
from vouchers.errors import ProgrammeError
from vouchers.models import Application, Beneficiary, Initiative, IssuanceRun, Voucher
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.payments import cash_grant_status
from vouchers.services.access import beneficiary_user
from vouchers.services.applications import (
    application_approve,
    application_submit,
    application_withdraw,
)
from vouchers.services.beneficiary_payments import (
    beneficiary_payment_batch_prepare,
    initiative_transfer_matching,
)
from vouchers.services.budget import budget_line
from vouchers.services.cash_grants import CashError
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import (
    applications_cash_grants_issue,
    applications_vouchers_issue,
    initiative_issue,
    issuance_run_execute,
    issuance_run_start,
)
from vouchers.services.notifications import render_outcome
from vouchers.services.ranking import initiative_rank
from vouchers.services.reimbursements import ClaimError, claim_decide, expense_review
from vouchers.services.waiting_list import initiative_fund_waiting_list

pytestmark = pytest.mark.django_db

NS = {"p": NAMESPACE}
INVALID_CIN_IBAN = "IT60Y0542811101000000123456"  # right check digits, wrong Italian CIN


def cash_call(**overrides) -> Initiative:
    """A published cash call: budget €300.00, €99.99 to each funded application."""
    overrides.setdefault("amount_base", Decimal("99.99"))
    return open_call(benefit_kind=Initiative.BenefitKind.CASH_TRANSFER, **overrides)


def approved(initiative: Initiative, n: int, **extra) -> Application:
    extra.setdefault("iban", factories.VALID_IBAN)
    application = application_submit(
        initiative=initiative, data=applicant(initiative, n, **extra), channel="online"
    )
    return application_approve(application=application, reason="ok", by=factories.user())


def ranked_cash_call(count: int = 3, **extra) -> tuple[Initiative, list[Application]]:
    initiative = cash_call()
    applications = [approved(initiative, n, **extra) for n in range(1, count + 1)]
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    for application in applications:
        application.refresh_from_db()
        assert application.outcome == Application.Outcome.FUNDED
    initiative.refresh_from_db()
    return initiative, applications


@pytest.fixture
def issued():
    initiative, applications = ranked_cash_call()
    assert initiative_issue(initiative=initiative) == 3
    for application in applications:
        application.refresh_from_db()
    initiative.refresh_from_db()
    return {"initiative": initiative, "applications": applications}


def payable(application: Application) -> Decimal:
    return account_balance(key=f"beneficiary:{application.applicant_id}:payable")


def paid(application: Application) -> Decimal:
    return account_balance(key=f"beneficiary:{application.applicant_id}:paid")


def exported_batch(initiative) -> tuple[PaymentBatch, bytes]:
    result = beneficiary_payment_batch_prepare(initiative=initiative, prepared_by=factories.user())
    batch = payment_batch_release(batch=result.batch, released_by=factories.user())
    out = io.BytesIO()
    batch = payment_batch_export(batch=batch, out=out)
    return batch, out.getvalue()


# --- The call -------------------------------------------------------------------------------


def test_a_cash_call_publishes_without_shop_categories_and_needs_the_iban_at_intake():
    initiative = factories.initiative(status=Initiative.Status.DRAFT, budget="300.00")
    initiative.allowed_categories.clear()
    initiative.benefit_kind = Initiative.BenefitKind.CASH_TRANSFER
    initiative.applications_open_at = timezone.now() - timedelta(days=1)
    initiative.applications_close_at = timezone.now() + timedelta(days=1)
    initiative.save()
    initiative = initiative_publish(initiative=initiative)
    assert initiative.status == Initiative.Status.PUBLISHED
    with pytest.raises(ProgrammeError) as error:
        application_submit(initiative=initiative, data=applicant(initiative, 1), channel="online")
    assert error.value.code == "iban_required"
    assert "IBAN" in error.value.detail
    assert not Application.objects.filter(initiative=initiative).exists()


def test_a_voucher_call_still_needs_shop_categories():
    initiative = factories.initiative(status=Initiative.Status.DRAFT, budget="300.00")
    initiative.allowed_categories.clear()
    initiative.applications_open_at = timezone.now() - timedelta(days=1)
    initiative.applications_close_at = timezone.now() + timedelta(days=1)
    initiative.save()
    with pytest.raises(ProgrammeError) as error:
        initiative_publish(initiative=initiative)
    assert error.value.code == "categories_missing"


# --- Issuing --------------------------------------------------------------------------------


def test_issuing_a_cash_call_moves_each_amount_to_the_person_and_creates_no_voucher(issued):
    initiative, applications = issued["initiative"], issued["applications"]
    assert not Voucher.objects.filter(initiative=initiative).exists()
    assert initiative.status == Initiative.Status.ISSUED
    assert {a.outcome for a in applications} == {Application.Outcome.ISSUED}
    assert all(payable(a) == Decimal("99.99") for a in applications)
    assert initiative_budget_available(initiative=initiative) == Decimal("0.03")
    journal = Journal.objects.get(kind=Journal.Kind.CASH_CONTRIBUTION)
    assert journal.postings.count() == 4  # the budget and three people
    assert not unbalanced_journals().exists()


def test_issuing_a_cash_call_again_grants_nothing_more(issued):
    initiative, applications = issued["initiative"], issued["applications"]
    assert initiative_issue(initiative=initiative) == 0
    assert (
        applications_cash_grants_issue(
            initiative=initiative, application_ids=[a.pk for a in applications]
        )
        == 0
    )
    assert Journal.objects.filter(kind=Journal.Kind.CASH_CONTRIBUTION).count() == 1
    assert all(payable(a) == Decimal("99.99") for a in applications)
    assert initiative_budget_available(initiative=initiative) == Decimal("0.03")


def test_the_issuance_run_grants_the_contributions():
    initiative, applications = ranked_cash_call()
    run = issuance_run_start(initiative=initiative)
    run = issuance_run_execute(run=run)
    assert (run.status, run.total, run.done, run.vouchers_issued) == ("done", 3, 3, 3)
    assert all(payable(a) == Decimal("99.99") for a in applications)
    assert not Voucher.objects.exists()


def test_a_chunk_the_budget_cannot_cover_is_refused_whole():
    initiative, applications = ranked_cash_call()
    # Part of the budget goes back to the fund after the ranking.
    journal_post(
        kind=Journal.Kind.BUDGET_ASSIGNED,
        lines=[
            budget_line(initiative=initiative, amount=Decimal("-150.00")),
            fund_account_line(
                fund=Fund.objects.get(pk=initiative.fund_id), amount=Decimal("150.00")
            ),
        ],
    )
    with pytest.raises(CashError) as error:
        applications_cash_grants_issue(
            initiative=initiative, application_ids=[a.pk for a in applications]
        )
    assert error.value.code == "insufficient_budget"
    assert "299,97" in error.value.detail or "299.97" in error.value.detail
    assert not Journal.objects.filter(kind=Journal.Kind.CASH_CONTRIBUTION).exists()
    assert set(
        Application.objects.filter(initiative=initiative).values_list("outcome", flat=True)
    ) == {Application.Outcome.FUNDED}
    run = issuance_run_execute(run=issuance_run_start(initiative=initiative))
    assert run.status == IssuanceRun.Status.FAILED and "budget" in run.error


def test_a_cash_call_issues_no_voucher_even_when_asked_for_vouchers():
    initiative, applications = ranked_cash_call(count=1)
    with pytest.raises(ProgrammeError) as error:
        applications_vouchers_issue(initiative=initiative, application_ids=[applications[0].pk])
    assert error.value.code == "not_a_voucher_call"
    assert not Voucher.objects.exists()


def test_issuing_a_reimbursement_call_creates_no_vouchers_and_keeps_the_entitlements():
    first = reimbursement_app(1)
    initiative = first.initiative
    second = reimbursement_app(2, initiative=initiative)
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    budget = initiative_budget_available(initiative=initiative)
    assert initiative_issue(initiative=initiative) == 0
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.ISSUED
    assert not Voucher.objects.filter(initiative=initiative).exists()
    assert initiative_budget_available(initiative=initiative) == budget
    assert set(
        Application.objects.filter(pk__in=[first.pk, second.pk]).values_list("outcome", flat=True)
    ) == {Application.Outcome.FUNDED}
    # The entitlement stands: a claim is received and approved after the issue.
    first.refresh_from_db()
    claim = claim_of(first, "40.00")
    reviewer = factories.user()
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim = claim_decide(claim=claim, decided_by=reviewer)
    assert claim.status == "approved"
    assert initiative_budget_available(initiative=initiative) == budget - Decimal("40.00")


# --- Paying ---------------------------------------------------------------------------------


def test_the_batch_pays_each_contribution_and_lists_the_invalid_and_missing_iban(issued):
    first, second, third = issued["applications"]
    Application.objects.filter(pk=second.pk).update(iban=INVALID_CIN_IBAN)
    Application.objects.filter(pk=third.pk).update(iban="")
    result = beneficiary_payment_batch_prepare(
        initiative=issued["initiative"], prepared_by=factories.user()
    )
    assert [(item.application.pk, item.excluded_reason) for item in result.excluded] == [
        (second.pk, f"IBAN non valido: {INVALID_CIN_IBAN}"),
        (third.pk, "IBAN mancante"),
    ]
    (line,) = result.batch.lines.all()
    assert (line.application_ref, line.beneficiary_ref, line.claim_ref, line.amount) == (
        first.pk,
        first.applicant_id,
        None,
        Decimal("99.99"),
    )
    assert line.remittance == f"Contributo {issued['initiative'].title} {first.protocol_number}"
    assert line.creditor_iban == factories.VALID_IBAN.replace(" ", "")
    # Already in a batch: not paid twice.
    Application.objects.filter(pk__in=[second.pk, third.pk]).update(iban=factories.VALID_IBAN)
    again = beneficiary_payment_batch_prepare(
        initiative=issued["initiative"], prepared_by=factories.user()
    )
    assert sorted(again.batch.lines.values_list("application_ref", flat=True)) == [
        second.pk,
        third.pk,
    ]
    with pytest.raises(ClaimError) as error:
        beneficiary_payment_batch_prepare(
            initiative=issued["initiative"], prepared_by=factories.user()
        )
    assert error.value.code == "nothing_to_pay"


def test_the_file_with_contributions_is_valid_against_the_xsd(issued):
    first = issued["applications"][0]
    Beneficiary.objects.filter(pk=first.applicant_id).update(
        first_name="Nicolò", last_name="D'Àngelo"
    )
    _batch, xml = exported_batch(issued["initiative"])
    validate_pain001(xml)  # raises PaymentFileError with the schema's messages
    root = etree.fromstring(xml)
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "299.97"
    names = [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:Cdtr/p:Nm", NS)]
    assert "Nicolo D'Angelo" in names


def test_claims_and_contributions_go_out_in_one_batch(issued):
    claimant = reimbursement_app(9)
    initiative_close(initiative=claimant.initiative)
    initiative_rank(initiative=claimant.initiative)
    claimant.refresh_from_db()
    claim = claim_of(claimant, "12.34")
    reviewer = factories.user()
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim = claim_decide(claim=claim, decided_by=reviewer)
    result = beneficiary_payment_batch_prepare(initiative=None, prepared_by=factories.user())
    lines = list(result.batch.lines.order_by("pk"))
    assert [(line.claim_ref, line.application_ref) for line in lines] == [
        (claim.pk, None),
        *[(None, a.pk) for a in issued["applications"]],
    ]
    assert result.batch.total == Decimal("312.31")


def test_camt054_marks_the_applications_of_the_confirmed_transfers_paid(issued):
    first, second, third = issued["applications"]
    batch, _xml = exported_batch(issued["initiative"])
    line_first, line_second, line_third = batch.lines.order_by("pk")
    report = payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line_first)))
    assert report.paid == [line_first.end_to_end_id]
    first.refresh_from_db(), second.refresh_from_db()
    assert first.paid_at is not None and second.paid_at is None
    assert (payable(first), paid(first)) == (Decimal("0.00"), Decimal("99.99"))
    assert (payable(second), paid(second)) == (Decimal("99.99"), Decimal("0.00"))
    payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(line_second), transfer_entry(line_third))
    )
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PAID
    assert (
        Application.objects.filter(pk__in=[a.pk for a in issued["applications"]])
        .filter(paid_at=None)
        .count()
        == 0
    )
    # The same notification again changes nothing.
    payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line_first)))
    assert paid(first) == Decimal("99.99")
    assert not unbalanced_journals().exists()


def test_marking_the_batch_paid_by_hand_pays_the_contributions(issued):
    batch, _xml = exported_batch(issued["initiative"])
    payment_batch_mark_paid(batch=batch, by=factories.user())
    for application in issued["applications"]:
        application.refresh_from_db()
        assert application.paid_at is not None
        assert (payable(application), paid(application)) == (Decimal("0.00"), Decimal("99.99"))
    assert not unbalanced_journals().exists()


def test_a_cancelled_batch_leaves_the_contributions_to_pay_in_a_new_one(issued):
    result = beneficiary_payment_batch_prepare(
        initiative=issued["initiative"], prepared_by=factories.user()
    )
    payment_batch_cancel(batch=result.batch, by=factories.user(), reason="IBAN da verificare")
    again = beneficiary_payment_batch_prepare(
        initiative=issued["initiative"], prepared_by=factories.user()
    )
    assert sorted(again.batch.lines.values_list("application_ref", flat=True)) == sorted(
        a.pk for a in issued["applications"]
    )


def test_matching_counts_the_contributions_the_bank_paid(issued):
    batch, _xml = exported_batch(issued["initiative"])
    payment_batch_mark_paid(batch=batch, by=factories.user())
    (row,) = initiative_transfer_matching(initiative=issued["initiative"])
    assert row.paid_to_beneficiaries == Decimal("299.97")


# --- Withdrawal -----------------------------------------------------------------------------


def test_withdrawing_before_the_batch_gives_the_contribution_back_to_the_budget(issued):
    first, second, _third = issued["applications"]
    application_withdraw(application=first, reason="Rinuncia", by=factories.user())
    assert payable(first) == Decimal("0.00")
    assert initiative_budget_available(initiative=issued["initiative"]) == Decimal("100.02")
    result = beneficiary_payment_batch_prepare(
        initiative=issued["initiative"], prepared_by=factories.user()
    )
    assert first.pk not in set(result.batch.lines.values_list("application_ref", flat=True))
    # Once in a batch, the contribution cannot be withdrawn.
    with pytest.raises(CashError) as error:
        application_withdraw(application=second, reason="Rinuncia", by=None)
    assert error.value.code == "contribution_in_payment"
    second.refresh_from_db()
    assert (second.status, payable(second)) == (Application.Status.APPROVED, Decimal("99.99"))
    assert not unbalanced_journals().exists()


# --- What the beneficiary reads -------------------------------------------------------------


def test_the_outcome_message_says_the_amount_and_the_iban_ending(issued):
    first = issued["applications"][0]
    _subject, body = render_outcome(application=first, outcome="funded", templates={})
    assert "99,99" in body
    assert f"IBAN che termina con {factories.VALID_IBAN.replace(' ', '')[-4:]}" in body
    assert "buoni" not in body.lower()


def test_the_app_shows_the_contribution_and_its_payment_status(client, issued):
    first = issued["applications"][0]
    client.force_login(beneficiary_user(beneficiary=first.applicant))
    url = reverse("webapp:my-application", args=[first.pk])
    page = client.get(url).content.decode()
    assert "Il tuo contributo" in page and ("99,99" in page or "99.99" in page)
    assert "Concesso, in attesa del bonifico" in page
    assert cash_grant_status(application=first).code == "to_pay"
    batch, _xml = exported_batch(issued["initiative"])
    assert cash_grant_status(application=first).code == "in_payment"
    payment_batch_mark_paid(batch=batch, by=factories.user())
    first.refresh_from_db()
    assert cash_grant_status(application=first).code == "paid"
    assert "Pagato con bonifico" in client.get(url).content.decode()


def test_a_reimbursement_call_funds_its_waiting_list_with_what_claims_did_not_take():
    first = reimbursement_app(1)
    initiative = first.initiative
    second, third, fourth = (reimbursement_app(n, initiative=initiative) for n in (2, 3, 4))
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    fourth.refresh_from_db()
    assert fourth.outcome == Application.Outcome.WAITING  # €300 fund three of €100
    first.refresh_from_db()
    claim = claim_of(first, "40.00")
    reviewer = factories.user()
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim_decide(claim=claim, decided_by=reviewer)
    # €40 spent of the first's €100: €260 left, all still committed to the three.
    assert initiative_fund_waiting_list(initiative=initiative) == []
    application_withdraw(application=second, reason="Rinuncia", by=None)
    fourth.refresh_from_db()
    assert fourth.outcome == Application.Outcome.FUNDED
