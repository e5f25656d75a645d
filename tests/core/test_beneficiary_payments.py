"""Beneficiary payment batches: approved reimbursements paid by SEPA transfer, to the ledger."""

import io
from decimal import Decimal

import pytest
from django.utils import timezone
from lxml import etree

from core.models import Journal, PaymentBatch, PaymentLine
from core.selectors import account_balance, unbalanced_journals
from core.sepa import NAMESPACE, validate_pain001
from core.services.payments import (
    PaymentError,
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from core.services.reconciliation import payment_batch_reconcile_camt054
from tests import factories
from tests.core.test_sepa import camt054, transfer_entry
from tests.vouchers.test_reimbursement_review import claim_of, funded_application, ranked
from vouchers.models import Application, Beneficiary, ReimbursementClaim
from vouchers.selectors.payments import payable_claims
from vouchers.services.beneficiary_payments import (
    beneficiary_payment_batch_prepare,
    incoming_transfer_record,
    initiative_transfer_matching,
)
from vouchers.services.reimbursements import ClaimError, claim_decide, expense_review

pytestmark = pytest.mark.django_db

NS = {"p": NAMESPACE}
INVALID_CIN_IBAN = "IT60Y0542811101000000123456"  # right check digits, wrong Italian CIN


def approved_claim(application, *amounts: str) -> ReimbursementClaim:
    claim = claim_of(application, *amounts)
    reviewer = factories.user()
    for expense in claim.expenses.all():
        expense_review(expense=expense, decision="approved", reviewed_by=reviewer)
    return claim_decide(claim=claim, decided_by=reviewer)


def exported_batch(initiative=None) -> tuple[PaymentBatch, bytes]:
    result = beneficiary_payment_batch_prepare(initiative=initiative, prepared_by=factories.user())
    batch = payment_batch_release(batch=result.batch, released_by=factories.user())
    out = io.BytesIO()
    batch = payment_batch_export(batch=batch, out=out)
    return batch, out.getvalue()


def pay_claims_by_hand(*, initiative) -> PaymentBatch:
    batch, _xml = exported_batch(initiative)
    return payment_batch_mark_paid(batch=batch, by=factories.user())


@pytest.fixture
def three_claims():
    """Three approved claims of one call: accents and apostrophes, a long name, a bad IBAN."""
    first = funded_application(1, street="Via dell'Università, 12/B")
    initiative = first.initiative
    second = funded_application(2, initiative=initiative)
    third = funded_application(3, initiative=initiative)
    ranked(first, second, third)
    Beneficiary.objects.filter(pk=first.applicant_id).update(
        first_name="Nicolò", last_name="D'Àngelo"
    )
    Beneficiary.objects.filter(pk=second.applicant_id).update(
        first_name="Maria Gabriella Francesca Antonietta",
        last_name="De' Medici Della Rovere Sforza Visconti Gonzaga d'Este",
    )
    Application.objects.filter(pk=third.pk).update(iban=INVALID_CIN_IBAN)
    third.refresh_from_db()
    return {
        "initiative": initiative,
        "claims": [
            approved_claim(first, "12.34", "20.00"),
            approved_claim(second, "0.01"),
            approved_claim(third, "15.00"),
        ],
    }


def test_the_batch_pays_each_approved_claim_and_lists_the_invalid_iban(three_claims):
    first, second, third = three_claims["claims"]
    payable, excluded = payable_claims(initiative=three_claims["initiative"])
    assert [item.claim for item in excluded] == [third]
    assert "IBAN non valido" in excluded[0].excluded_reason
    result = beneficiary_payment_batch_prepare(
        initiative=three_claims["initiative"], prepared_by=factories.user()
    )
    batch = result.batch
    assert [item.claim for item in result.excluded] == [third]
    assert batch.kind == PaymentBatch.Kind.BENEFICIARY_PAYMENTS
    lines = list(batch.lines.order_by("pk"))
    assert [(line.claim_ref, line.amount) for line in lines] == [
        (first.pk, Decimal("32.34")),
        (second.pk, Decimal("0.01")),
    ]
    assert lines[0].creditor_name == "Nicolo D'Angelo"
    assert lines[0].street == "Via dell'Universita" and lines[0].building_number == "12/B"
    assert len(lines[1].creditor_name) <= 70
    assert lines[0].remittance == (
        f"Rimborso {first.initiative.title} {first.application.protocol_number}"
    )
    assert lines[0].beneficiary_ref == first.beneficiary_id
    # A claim already in a batch is not paid twice.
    with pytest.raises(ClaimError) as error:
        beneficiary_payment_batch_prepare(
            initiative=three_claims["initiative"], prepared_by=factories.user()
        )
    assert error.value.code == "nothing_to_pay"


def test_the_file_is_valid_against_the_xsd_with_accents_apostrophes_and_long_names(three_claims):
    _batch, xml = exported_batch(three_claims["initiative"])
    validate_pain001(xml)  # raises PaymentFileError with the schema's messages
    root = etree.fromstring(xml)
    names = [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:Cdtr/p:Nm", NS)]
    assert names[0] == "Nicolo D'Angelo"
    assert all(len(name) <= 70 for name in names)


def test_release_needs_a_second_person(three_claims):
    preparer = factories.user()
    result = beneficiary_payment_batch_prepare(
        initiative=three_claims["initiative"], prepared_by=preparer
    )
    with pytest.raises(PaymentError) as error:
        payment_batch_release(batch=result.batch, released_by=preparer)
    assert error.value.code == "four_eyes"


def test_marking_the_batch_paid_pays_the_claims_and_moves_payable_to_paid(three_claims):
    first, second, third = three_claims["claims"]
    batch = pay_claims_by_hand(initiative=three_claims["initiative"])
    statuses = dict(
        ReimbursementClaim.objects.filter(pk__in=[first.pk, second.pk, third.pk]).values_list(
            "pk", "status"
        )
    )
    assert statuses == {first.pk: "paid", second.pk: "paid", third.pk: "approved"}
    assert account_balance(key=f"beneficiary:{first.beneficiary_id}:payable") == Decimal("0.00")
    assert account_balance(key=f"beneficiary:{first.beneficiary_id}:paid") == Decimal("32.34")
    assert account_balance(key=f"beneficiary:{third.beneficiary_id}:payable") == Decimal("15.00")
    journal = Journal.objects.get(kind=Journal.Kind.BENEFICIARY_PAID)
    assert set(batch.lines.values_list("journal", flat=True)) == {journal.pk}
    assert not unbalanced_journals().exists()


def test_camt054_marks_the_claims_of_the_confirmed_transfers_paid(three_claims):
    first, second, _third = three_claims["claims"]
    batch, _xml = exported_batch(three_claims["initiative"])
    line_first, line_second = batch.lines.order_by("pk")
    report = payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line_first)))
    assert report.paid == [line_first.end_to_end_id]
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == ("paid", "approved")
    assert account_balance(key=f"beneficiary:{first.beneficiary_id}:paid") == Decimal("32.34")
    assert account_balance(key=f"beneficiary:{second.beneficiary_id}:paid") == Decimal("0.00")
    payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line_second)))
    second.refresh_from_db()
    batch.refresh_from_db()
    assert second.status == "paid" and batch.status == PaymentBatch.Status.PAID
    assert not unbalanced_journals().exists()


def test_a_cancelled_batch_leaves_the_claims_to_pay_in_a_new_one(three_claims):
    first, second, _third = three_claims["claims"]
    result = beneficiary_payment_batch_prepare(
        initiative=three_claims["initiative"], prepared_by=factories.user()
    )
    payment_batch_cancel(batch=result.batch, by=factories.user(), reason="IBAN da verificare")
    again = beneficiary_payment_batch_prepare(
        initiative=three_claims["initiative"], prepared_by=factories.user()
    )
    assert sorted(again.batch.lines.values_list("claim_ref", flat=True)) == [first.pk, second.pk]


def test_a_hand_made_beneficiary_line_posts_nothing_to_the_ledger():
    from tests.core.test_sepa import exported, order

    batch, _xml = exported([order(1)])
    payment_batch_mark_paid(batch=batch, by=factories.user())
    assert not Journal.objects.filter(kind=Journal.Kind.BENEFICIARY_PAID).exists()
    assert PaymentLine.objects.get(batch=batch).paid_at is not None


def test_matching_counts_shop_settlements_paid_for_the_municipality_residents(circuit):
    from merchants.services.redemption import voucher_redeem
    from merchants.services.settlements import merchant_payment_batch_prepare, settlements_run
    from merchants.services.tills import Till

    initiative = circuit["initiative"]
    town = initiative.municipalities.get()
    voucher_redeem(
        till=Till(merchant=circuit["merchant"]),
        code=circuit["voucher"].code,
        amount="30.00",
        idempotency_key="k1",
    )
    other = factories.voucher(initiative=initiative)
    voucher_redeem(
        till=Till(merchant=circuit["merchant"]),
        code=other.code,
        amount="12.50",
        idempotency_key="k2",
    )
    settlements = settlements_run()
    rows = initiative_transfer_matching(initiative=initiative)
    assert rows[0].paid_to_shops == Decimal("0.00")  # settled, not yet paid
    batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    batch = payment_batch_release(batch=batch, released_by=factories.user())
    batch = payment_batch_export(batch=batch, out=io.BytesIO())
    payment_batch_mark_paid(batch=batch, by=factories.user())
    incoming_transfer_record(
        municipality=town,
        initiative=initiative,
        amount="40.00",
        value_date=timezone.localdate(),
        recorded_by=factories.user(),
    )
    (row,) = initiative_transfer_matching(initiative=initiative)
    assert (row.received, row.paid_to_shops, row.paid_to_beneficiaries) == (
        Decimal("40.00"),
        Decimal("42.50"),
        Decimal("0.00"),
    )
    assert row.difference == Decimal("-2.50")
