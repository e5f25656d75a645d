from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import Account, Journal
from core.selectors import account_balance, unbalanced_journals
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import (
    Application,
    IncomingTransfer,
    Initiative,
    ReimbursementClaim,
    ReimbursementReview,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.applications import application_approve, application_submit
from vouchers.services.beneficiary_payments import (
    incoming_transfer_record,
    initiative_transfer_matching,
)
from vouchers.services.initiatives import initiative_close
from vouchers.services.ranking import initiative_rank
from vouchers.services.reimbursements import (
    ClaimError,
    ExpenseData,
    claim_decide,
    expense_review,
    reimbursement_claim_submit,
)

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def funded_application(n: int = 1, *, initiative=None, **extra) -> Application:
    """A funded application to a reimbursement call granting €100 per person."""
    initiative = initiative or open_call(benefit_kind=Initiative.BenefitKind.REIMBURSEMENT)
    application = application_submit(
        initiative=initiative,
        data=applicant(initiative, n, iban=factories.VALID_IBAN, **extra),
        channel="online",
    )
    application_approve(application=application, reason="ok", by=factories.user())
    return application


def ranked(*applications: Application) -> None:
    initiative = applications[0].initiative
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    for application in applications:
        application.refresh_from_db()
        assert application.outcome == Application.Outcome.FUNDED


def claim_of(application: Application, *amounts: str, submitted_by=None) -> ReimbursementClaim:
    category = application.initiative.allowed_categories.first()
    return reimbursement_claim_submit(
        application=application,
        expenses=[
            ExpenseData(
                amount=amount,
                spent_on=timezone.localdate(),
                category=category,
                receipt=SimpleUploadedFile("scontrino.jpg", JPEG),
            )
            for amount in amounts
        ],
        submitted_by=submitted_by,
    )


@pytest.fixture
def application():
    application = funded_application()
    ranked(application)
    return application


def test_a_line_is_approved_reduced_or_refused_with_who_and_when(application):
    claim = claim_of(application, "30.00", "40.00", "10.00")
    first, second, third = claim.expenses.order_by("pk")
    reviewer = factories.user()
    expense_review(expense=first, decision="approved", reviewed_by=reviewer)
    expense_review(
        expense=second,
        decision="reduced",
        approved_amount="25,50",
        reason="Solo i libri",
        reviewed_by=reviewer,
    )
    expense_review(expense=third, decision="refused", reason="Non ammessa", reviewed_by=reviewer)
    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert (first.status, first.approved_amount) == ("approved", Decimal("30.00"))
    assert (second.status, second.approved_amount) == ("reduced", Decimal("25.50"))
    assert second.refusal_reason == "Solo i libri"
    assert (third.status, third.approved_amount, third.refusal_reason) == (
        "refused",
        Decimal("0.00"),
        "Non ammessa",
    )
    reviews = list(ReimbursementReview.objects.filter(claim=claim).order_by("pk"))
    assert [r.action for r in reviews] == ["approve", "reduce", "refuse"]
    assert all(r.reviewed_by == reviewer and r.reviewed_at for r in reviews)


@pytest.mark.parametrize(
    ("decision", "amount", "reason", "code"),
    [
        ("reduced", "10.00", "", "reason_required"),
        ("refused", None, "  ", "reason_required"),
        ("reduced", "40.00", "troppo", "approved_amount_invalid"),
        ("reduced", "50.00", "troppo", "approved_amount_invalid"),
        ("reduced", "0", "troppo", "approved_amount_invalid"),
        ("reduced", "abc", "troppo", "approved_amount_invalid"),
        ("reduced", "1.234", "troppo", "approved_amount_invalid"),
        ("maybe", None, "", "invalid_decision"),
    ],
)
def test_a_wrong_review_is_refused_and_changes_nothing(application, decision, amount, reason, code):
    claim = claim_of(application, "40.00")
    expense = claim.expenses.get()
    with pytest.raises(ClaimError) as error:
        expense_review(
            expense=expense,
            decision=decision,
            approved_amount=amount,
            reason=reason,
            reviewed_by=factories.user(),
        )
    assert error.value.code == code and error.value.detail
    expense.refresh_from_db()
    assert expense.status == "pending" and expense.approved_amount is None
    assert not ReimbursementReview.objects.exists()


def test_the_desk_operator_who_entered_the_claim_cannot_review_or_decide_it(application):
    desk = factories.user()
    claim = claim_of(application, "40.00", submitted_by=desk)
    with pytest.raises(ClaimError) as error:
        expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=desk)
    assert error.value.code == "four_eyes"
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=factories.user())
    with pytest.raises(ClaimError) as error:
        claim_decide(claim=claim, decided_by=desk)
    assert error.value.code == "four_eyes"
    claim.refresh_from_db()
    assert claim.status == "submitted"


def test_the_review_closes_only_when_every_line_is_reviewed(application):
    claim = claim_of(application, "20.00", "30.00")
    reviewer = factories.user()
    expense_review(expense=claim.expenses.first(), decision="approved", reviewed_by=reviewer)
    with pytest.raises(ClaimError) as error:
        claim_decide(claim=claim, decided_by=reviewer)
    assert error.value.code == "expenses_pending" and "1" in error.value.detail


def test_an_approved_claim_moves_its_total_from_the_budget_to_the_beneficiary(application):
    initiative = application.initiative
    before = initiative_budget_available(initiative=initiative)
    claim = claim_of(application, "20.00", "30.00")
    reviewer = factories.user()
    first, second = claim.expenses.order_by("pk")
    expense_review(expense=first, decision="approved", reviewed_by=reviewer)
    expense_review(
        expense=second, decision="reduced", approved_amount="10", reason="x", reviewed_by=reviewer
    )
    claim = claim_decide(claim=claim, decided_by=reviewer)
    assert claim.status == ReimbursementClaim.Status.PARTLY_APPROVED
    assert initiative_budget_available(initiative=initiative) == before - Decimal("30.00")
    payable = f"beneficiary:{application.applicant_id}:payable"
    assert account_balance(key=payable) == Decimal("30.00")
    assert Account.objects.get(key=payable).kind == Account.Kind.BENEFICIARY_PAYABLE
    journal = Journal.objects.get(kind=Journal.Kind.REIMBURSEMENT_APPROVED)
    assert ReimbursementReview.objects.get(action="decide").journal == journal
    assert not unbalanced_journals().exists()


def test_a_claim_with_every_line_approved_in_full_is_approved_and_refused_is_rejected():
    first = funded_application(1)
    initiative = first.initiative
    second = funded_application(2, initiative=initiative)
    ranked(first, second)
    reviewer = factories.user()
    approved = claim_of(first, "20.00")
    expense_review(expense=approved.expenses.get(), decision="approved", reviewed_by=reviewer)
    assert claim_decide(claim=approved, decided_by=reviewer).status == "approved"
    rejected = claim_of(second, "20.00")
    expense_review(
        expense=rejected.expenses.get(), decision="refused", reason="No", reviewed_by=reviewer
    )
    journals = Journal.objects.count()
    assert claim_decide(claim=rejected, decided_by=reviewer).status == "rejected"
    assert Journal.objects.count() == journals  # nothing approved, nothing moves


def test_deciding_twice_is_refused_and_moves_money_once(application):
    claim = claim_of(application, "20.00")
    reviewer = factories.user()
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim_decide(claim=claim, decided_by=reviewer)
    with pytest.raises(ClaimError) as error:
        claim_decide(claim=claim, decided_by=reviewer)
    assert error.value.code == "claim_closed"
    with pytest.raises(ClaimError):
        expense_review(
            expense=claim.expenses.get(), decision="refused", reason="x", reviewed_by=reviewer
        )
    assert Journal.objects.filter(kind=Journal.Kind.REIMBURSEMENT_APPROVED).count() == 1


def test_the_cap_spans_the_claims_of_an_application_and_the_cut_is_explained(application):
    # The call grants €100 to this application.
    assert application.amount == Decimal("100.00")
    reviewer = factories.user()
    first = claim_of(application, "70.00")
    expense_review(expense=first.expenses.get(), decision="approved", reviewed_by=reviewer)
    assert claim_decide(claim=first, decided_by=reviewer).status == "approved"

    second = claim_of(application, "20.00", "25.00", "5.00")
    for expense in second.expenses.all():
        expense_review(expense=expense, decision="approved", reviewed_by=reviewer)
    second = claim_decide(claim=second, decided_by=reviewer)
    assert second.status == "partly_approved"
    lines = list(second.expenses.order_by("spent_on", "pk"))
    assert [e.approved_amount for e in lines] == [
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("0.00"),
    ]
    assert [e.status for e in lines] == ["approved", "reduced", "refused"]
    assert "massimale" in lines[1].refusal_reason and "10,00" in lines[1].refusal_reason
    assert "massimale" in lines[2].refusal_reason
    assert account_balance(key=f"beneficiary:{application.applicant_id}:payable") == Decimal(
        "100.00"
    )

    third = claim_of(application, "5.00")
    expense_review(expense=third.expenses.get(), decision="approved", reviewed_by=reviewer)
    assert claim_decide(claim=third, decided_by=reviewer).status == "rejected"


def test_the_call_amount_cap_limits_what_is_reimbursed_too():
    initiative = open_call(
        benefit_kind=Initiative.BenefitKind.REIMBURSEMENT, amount_cap=Decimal("60.00")
    )
    application = funded_application(initiative=initiative)
    ranked(application)
    reviewer = factories.user()
    claim = claim_of(application, "80.00")
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim = claim_decide(claim=claim, decided_by=reviewer)
    assert claim.expenses.get().approved_amount == Decimal("60.00")


def test_a_claim_the_budget_cannot_cover_is_refused_in_words_and_changes_nothing(application):
    initiative = application.initiative
    # Spend the budget down to €10: issue a €290 voucher elsewhere would be complex; move it.
    from core.services.ledger import Line, journal_post

    journal_post(
        kind=Journal.Kind.BUDGET_ASSIGNED,
        lines=[
            Line(initiative.budget_account_key, Decimal("-290.00"), Account.Kind.INITIATIVE_BUDGET),
            Line(f"fund:{initiative.fund_id}", Decimal("290.00"), Account.Kind.FUND),
        ],
    )
    reviewer = factories.user()
    claim = claim_of(application, "50.00")
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    with pytest.raises(ClaimError) as error:
        claim_decide(claim=claim, decided_by=reviewer)
    assert error.value.code == "insufficient_budget"
    assert "50,00" in error.value.detail and "10,00" in error.value.detail
    claim.refresh_from_db()
    assert claim.status == "submitted"
    assert not Journal.objects.filter(kind=Journal.Kind.REIMBURSEMENT_APPROVED).exists()
    assert not ReimbursementReview.objects.filter(action="decide").exists()


def test_the_beneficiary_is_told_the_outcome_by_email(
    application, django_capture_on_commit_callbacks
):
    application.applicant.email = "mario@example.org"
    application.applicant.save()
    reviewer = factories.user()
    claim = claim_of(application, "20.00")
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        claim_decide(claim=claim, decided_by=reviewer)
    assert len(mail.outbox) == 1 and "20,00" in mail.outbox[0].body


# --- the municipality's transfer ---------------------------------------------------------


def test_a_transfer_is_recorded_balanced_and_refused_when_wrong(application):
    initiative = application.initiative
    town = initiative.municipalities.get()
    agency = factories.user()
    budget = initiative_budget_available(initiative=initiative)
    transfer = incoming_transfer_record(
        municipality=town,
        initiative=initiative,
        amount="250,00",
        value_date=timezone.localdate(),
        bank_reference="CRO123",
        recorded_by=agency,
    )
    assert transfer.amount == Decimal("250.00") and transfer.journal.kind == "incoming_transfer"
    assert account_balance(key=f"initiative:{initiative.pk}:received:{town.pk}") == Decimal(
        "250.00"
    )
    assert initiative_budget_available(initiative=initiative) == budget
    assert not unbalanced_journals().exists()
    cases = [
        ({"amount": "-1"}, "transfer_amount_invalid"),
        ({"municipality": factories.municipality()}, "not_a_municipality"),
        ({"value_date": timezone.localdate() + timedelta(days=1)}, "value_date_future"),
        ({"bank_reference": "CRO123"}, "duplicate_transfer"),
    ]
    for overrides, code in cases:
        arguments = {
            "municipality": town,
            "initiative": initiative,
            "amount": "10",
            "value_date": timezone.localdate(),
            "bank_reference": "",
            "recorded_by": agency,
            **overrides,
        }
        with pytest.raises(ClaimError) as error:
            incoming_transfer_record(**arguments)
        assert error.value.code == code
    assert IncomingTransfer.objects.count() == 1


def test_matching_shows_received_against_paid_out_per_municipality():
    from tests.core.test_beneficiary_payments import pay_claims_by_hand

    first = funded_application(1)
    initiative = first.initiative
    second_town = factories.municipality()
    initiative.municipalities.add(second_town)
    ranked(first)
    reviewer = factories.user()
    claim = claim_of(first, "40.00")
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim_decide(claim=claim, decided_by=reviewer)
    town = initiative.municipalities.exclude(pk=second_town.pk).get()
    incoming_transfer_record(
        municipality=town,
        initiative=initiative,
        amount="100",
        value_date=timezone.localdate(),
        recorded_by=reviewer,
    )
    rows = {row.municipality.pk: row for row in initiative_transfer_matching(initiative=initiative)}
    assert rows[town.pk].received == Decimal("100.00")
    assert rows[town.pk].paid_to_beneficiaries == Decimal("0.00")  # approved, not paid yet
    pay_claims_by_hand(initiative=initiative)
    rows = {row.municipality.pk: row for row in initiative_transfer_matching(initiative=initiative)}
    assert rows[town.pk].paid_to_beneficiaries == Decimal("40.00")
    assert rows[town.pk].paid_out == Decimal("40.00")
    assert rows[town.pk].difference == Decimal("60.00")
    assert rows[second_town.pk].difference == Decimal("0.00")


def add_claim_and_transfer() -> ReimbursementClaim:
    """A reimbursement call with a claim to review and a transfer from its municipality."""
    application = funded_application()
    ranked(application)
    claim = claim_of(application, "20.00", "5.00")
    initiative = application.initiative
    incoming_transfer_record(
        municipality=initiative.municipalities.get(),
        initiative=initiative,
        amount="50.00",
        value_date=timezone.localdate(),
        recorded_by=factories.user(),
    )
    return claim


# --- the admin ---------------------------------------------------------------------------

CONFIRM = {"confirm": "yes", "apply": "1"}


def staff(role: str, organization):
    from core.roles import membership_grant

    person = factories.user(is_staff=True)
    membership_grant(user=person, organization=organization, role=role)
    return person


def admin_url(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:vouchers_{name}", args=args)


def agency_admin():
    from core.models import Organization, Role

    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    return staff(Role.AGENCY_ADMIN, agency)


def test_a_validator_reviews_the_lines_and_closes_the_review_in_the_admin(client, application):
    from core.models import Role

    town = application.municipality
    claim = claim_of(application, "30.00", "40.00")
    first, second = claim.expenses.order_by("pk")
    validator = staff(Role.VALIDATOR, town)
    client.force_login(validator)
    page = client.get(admin_url("reimbursementclaim_change", claim.pk))
    assert page.status_code == 200 and "Scontrino" in page.content.decode()
    review = admin_url("reimbursementclaim_review_detail", claim.pk)
    assert client.get(review).status_code == 200
    # A reduction without a reason changes nothing and says why.
    response = client.post(
        review, {**CONFIRM, f"decision_{first.pk}": "approved", f"decision_{second.pk}": "reduced"}
    )
    assert response.status_code == 200 and "Indica il motivo" in response.content.decode()
    first.refresh_from_db()
    assert first.status == "pending"
    response = client.post(
        review,
        {
            **CONFIRM,
            f"decision_{first.pk}": "approved",
            f"decision_{second.pk}": "reduced",
            f"amount_{second.pk}": "15,00",
            f"reason_{second.pk}": "Solo una parte è ammessa",
        },
    )
    assert response.status_code == 302
    response = client.post(admin_url("reimbursementclaim_decide_detail", claim.pk), CONFIRM)
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == "partly_approved"
    assert approved_total_of(claim) == Decimal("45.00")
    receipt = client.get(admin_url("reimbursementclaim_receipt", claim.pk, first.pk))
    assert receipt.status_code == 200 and receipt["Content-Type"] == "image/jpeg"


def approved_total_of(claim) -> Decimal:
    from vouchers.selectors.payments import approved_total

    return approved_total(claim)


def test_the_desk_enters_a_claim_and_cannot_decide_it(client, application):
    from core.models import Role

    town = application.municipality
    desk = staff(Role.DESK_OPERATOR, town)
    client.force_login(desk)
    url = admin_url("reimbursementclaim_desk_claim")
    assert client.get(url).status_code == 200
    category = application.initiative.allowed_categories.first()
    form = {
        **CONFIRM,
        "application": application.pk,
        "expense_0_amount": "12,50",
        "expense_0_spent_on": timezone.localdate().strftime("%d/%m/%Y"),
        "expense_0_category": category.pk,
        "expense_0_receipt": SimpleUploadedFile("ricevuta.jpg", JPEG),
    }
    bad = {**form, "expense_0_receipt": SimpleUploadedFile("x.exe", b"MZ\x90\x00")}
    response = client.post(url, bad)
    assert "Sono accettati solo file PDF" in response.content.decode()
    assert not ReimbursementClaim.objects.exists()
    response = client.post(url, form)
    assert response.status_code == 302
    claim = ReimbursementClaim.objects.get()
    assert claim.submitted_by == desk and claim.expenses.get().amount == Decimal("12.50")
    # The same person cannot judge it: four eyes.
    with pytest.raises(ClaimError) as error:
        expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=desk)
    assert error.value.code == "four_eyes"


def test_staff_of_another_municipality_do_not_see_the_claim(client, application):
    from core.models import Role

    claim = claim_of(application, "30.00")
    stranger = staff(Role.VALIDATOR, factories.municipality())
    client.force_login(stranger)
    listing = client.get(admin_url("reimbursementclaim_changelist"))
    assert (
        listing.status_code == 200 and claim.beneficiary.last_name not in listing.content.decode()
    )
    assert client.get(admin_url("reimbursementclaim_change", claim.pk)).status_code in (302, 404)
    assert client.get(admin_url("reimbursementclaim_review_detail", claim.pk)).status_code in (
        302,
        403,
        404,
    )
    assert (
        client.get(admin_url("reimbursementclaim_receipt", claim.pk, claim.expenses.get().pk))
    ).status_code == 404
    claim.refresh_from_db()
    assert claim.status == "submitted"


def test_the_agency_prepares_the_batch_records_a_transfer_and_reads_the_matching(
    client, application
):
    from core.models import PaymentBatch

    reviewer = factories.user()
    claim = claim_of(application, "30.00")
    expense_review(expense=claim.expenses.get(), decision="approved", reviewed_by=reviewer)
    claim_decide(claim=claim, decided_by=reviewer)
    client.force_login(agency_admin())
    url = admin_url("reimbursementclaim_prepare_batch")
    page = client.get(url)
    assert page.status_code == 200 and application.protocol_number in page.content.decode()
    response = client.post(url, {**CONFIRM, "initiative": application.initiative_id})
    assert response.status_code == 302
    batch = PaymentBatch.objects.get()
    assert batch.kind == "beneficiary_payments" and batch.total == Decimal("30.00")

    initiative = application.initiative
    record = admin_url("incomingtransfer_record_transfer")
    assert client.get(record).status_code == 200
    form = {
        **CONFIRM,
        "initiative": initiative.pk,
        "municipality": application.municipality_id,
        "amount": "abc",
        "value_date": timezone.localdate().strftime("%d/%m/%Y"),
        "bank_reference": "CRO-1",
    }
    response = client.post(record, form)
    assert "Importo non valido" in response.content.decode()
    assert not IncomingTransfer.objects.exists()
    assert client.post(record, {**form, "amount": "120,00"}).status_code == 302
    matching = admin_url("incomingtransfer_matching")
    response = client.post(matching, {**CONFIRM, "initiative": initiative.pk})
    content = response.content.decode()
    assert response.status_code == 200 and "120,00" in content


def test_the_beneficiary_reads_each_outcome_and_reason_in_the_app(client, application):
    from django.urls import reverse

    from vouchers.services.access import beneficiary_user

    claim = claim_of(application, "30.00", "40.00")
    first, second = claim.expenses.order_by("pk")
    reviewer = factories.user()
    expense_review(expense=first, decision="approved", reviewed_by=reviewer)
    expense_review(
        expense=second, decision="refused", reason="Scontrino illeggibile", reviewed_by=reviewer
    )
    claim_decide(claim=claim, decided_by=reviewer)
    client.force_login(beneficiary_user(beneficiary=application.applicant))
    page = client.get(reverse("webapp:my-claims")).content.decode()
    assert "Scontrino illeggibile" in page and "Non ammessa" in page
    assert "Approvata in parte" in page and "30,00" in page
