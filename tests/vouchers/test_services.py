"""Issuing, expiring and revoking vouchers, each with its ledger entry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError
from core.models import Journal, Posting
from core.selectors import account_balance, fund_balance, unbalanced_journals
from merchants.services.redemption import voucher_redeem
from tests import factories
from vouchers.codes import ALPHABET
from vouchers.errors import VoucherError
from vouchers.models import Initiative, Voucher
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.budget import initiative_assign_budget
from vouchers.services.expiry import voucher_expire, voucher_revoke, vouchers_expire_due
from vouchers.services.issuing import voucher_issue_bulk

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def residents(initiative: Initiative, count: int):
    town = initiative.municipalities.first()
    return [factories.beneficiary(municipality=town) for _ in range(count)]


def spend(voucher: Voucher, amount: str) -> None:
    shop = factories.merchant(initiative=voucher.initiative)
    voucher_redeem(
        till=factories.till(shop=shop), code=voucher.code, amount=amount, idempotency_key="k"
    )


def budget(initiative: Initiative) -> Decimal:
    return initiative_budget_available(initiative=initiative)


# --- Budget ----------------------------------------------------------------------------------


def test_assigning_budget_moves_money_from_the_fund_to_the_call():
    initiative = factories.initiative(budget="1000.00")
    fund_before = fund_balance(fund_id=initiative.fund_id)
    initiative_assign_budget(initiative=initiative, amount="250.00")
    assert budget(initiative) == Decimal("1250.00")
    assert fund_balance(fund_id=initiative.fund_id) == fund_before - Decimal("250.00")


def test_assigning_more_budget_than_the_fund_holds_is_refused_with_insufficient_fund():
    initiative = factories.initiative(budget="1000.00")  # the fund keeps 1000.00 more
    journals = Journal.objects.count()
    with pytest.raises(DomainError) as refused:
        initiative_assign_budget(initiative=initiative, amount="1000.01")
    assert refused.value.code == "insufficient_fund"
    assert Journal.objects.count() == journals
    assert budget(initiative) == Decimal("1000.00")


# --- Issue -----------------------------------------------------------------------------------


def test_issue_gives_each_resident_vouchers_of_the_calls_face_value_and_validity():
    initiative = factories.initiative(face_value="50.00", budget="1000.00")
    people = residents(initiative, 3)
    vouchers = voucher_issue_bulk(initiative=initiative, beneficiaries=people, quantity=2)
    assert len(vouchers) == 6
    assert {v.beneficiary_id for v in vouchers} == {p.pk for p in people}
    for voucher in vouchers:
        voucher.refresh_from_db()
        assert voucher.face_value == voucher.balance == Decimal("50.00")
        assert voucher.status == Voucher.Status.ACTIVE
        assert (voucher.valid_from, voucher.valid_until) == (
            initiative.valid_from,
            initiative.valid_until,
        )
        assert voucher.partial_allowed is initiative.partial_allowed
        assert len(voucher.code) == 20 and set(voucher.code) <= set(ALPHABET)
        assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("50.00")
    assert len({v.code for v in vouchers}) == 6


def test_issue_takes_the_vouchers_value_out_of_the_calls_budget_in_one_balanced_journal():
    initiative = factories.initiative(face_value="100.00", budget="1000.00")
    voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 3))
    journal = Journal.objects.get(kind=Journal.Kind.VOUCHERS_ISSUED)
    assert journal.postings.count() == 4
    assert budget(initiative) == Decimal("700.00")
    assert account_balance(key=initiative.outstanding_account_key) == Decimal("300.00")
    assert not unbalanced_journals().exists()


@pytest.mark.parametrize(
    "kind", [Initiative.BenefitKind.CASH_TRANSFER, Initiative.BenefitKind.REIMBURSEMENT]
)
def test_a_call_paid_by_transfer_issues_no_vouchers_to_residents(kind):
    initiative = factories.initiative(face_value="100.00", budget="1000.00")
    Initiative.objects.filter(pk=initiative.pk).update(benefit_kind=kind)
    initiative.refresh_from_db()
    journals = Journal.objects.count()
    with pytest.raises(DomainError) as refused:
        voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 2))
    assert refused.value.code == "not_a_voucher_call"
    assert not Voucher.objects.filter(initiative=initiative).exists()
    assert Journal.objects.count() == journals
    assert budget(initiative) == Decimal("1000.00")


def test_issue_copies_a_fixed_denomination_call_to_its_vouchers():
    initiative = factories.initiative(face_value="25.00", partial_allowed=False)
    (voucher,) = voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 1))
    assert voucher.partial_allowed is False


def test_issue_retried_for_the_same_people_gives_nobody_a_second_voucher():
    initiative = factories.initiative(budget="1000.00")
    people = residents(initiative, 2)
    first = voucher_issue_bulk(initiative=initiative, beneficiaries=people)
    journals = Journal.objects.count()
    assert voucher_issue_bulk(initiative=initiative, beneficiaries=people) == []
    assert Voucher.objects.filter(initiative=initiative).count() == len(first) == 2
    assert Journal.objects.count() == journals
    assert budget(initiative) == Decimal("800.00")


def test_issue_retried_with_a_newcomer_serves_only_the_newcomer():
    initiative = factories.initiative(budget="1000.00")
    people = residents(initiative, 2)
    voucher_issue_bulk(initiative=initiative, beneficiaries=people[:1])
    again = voucher_issue_bulk(initiative=initiative, beneficiaries=people)
    assert [v.beneficiary_id for v in again] == [people[1].pk]
    assert Voucher.objects.filter(initiative=initiative).count() == 2
    assert budget(initiative) == Decimal("800.00")


def test_issue_beyond_the_budget_is_refused_with_insufficient_budget_and_issues_nothing():
    initiative = factories.initiative(face_value="100.00", budget="250.00")
    journals = Journal.objects.count()
    with pytest.raises(VoucherError) as refused:
        voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 3))
    assert refused.value.code == "insufficient_budget"
    assert not Voucher.objects.filter(initiative=initiative).exists()
    assert Journal.objects.count() == journals
    assert budget(initiative) == Decimal("250.00")


def test_issue_up_to_exactly_the_budget_is_allowed():
    initiative = factories.initiative(face_value="100.00", budget="200.00")
    assert len(voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 2)))
    assert budget(initiative) == Decimal("0.00")


def test_issue_to_someone_living_elsewhere_is_refused_with_beneficiary_not_resident():
    initiative = factories.initiative()
    outsider = factories.beneficiary(municipality=factories.municipality(), first_name="Anna")
    with pytest.raises(VoucherError) as refused:
        voucher_issue_bulk(
            initiative=initiative, beneficiaries=[*residents(initiative, 1), outsider]
        )
    assert refused.value.code == "beneficiary_not_resident"
    assert outsider.full_name in refused.value.detail
    assert not Voucher.objects.filter(initiative=initiative).exists()


def test_issue_serves_residents_of_every_municipality_of_a_joint_call():
    towns = [factories.municipality(), factories.municipality()]
    initiative = factories.initiative(municipalities=towns)
    people = [factories.beneficiary(municipality=town) for town in towns]
    assert len(voucher_issue_bulk(initiative=initiative, beneficiaries=people)) == 2


@pytest.mark.parametrize("quantity", [0, -1])
def test_issue_of_no_vouchers_per_person_is_refused_with_invalid_amount(quantity):
    initiative = factories.initiative()
    with pytest.raises(VoucherError) as refused:
        voucher_issue_bulk(
            initiative=initiative, beneficiaries=residents(initiative, 1), quantity=quantity
        )
    assert refused.value.code == "invalid_amount"


def test_issue_for_an_archived_call_is_refused_with_initiative_archived():
    initiative = factories.initiative(status=Initiative.Status.ARCHIVED)
    with pytest.raises(VoucherError) as refused:
        voucher_issue_bulk(initiative=initiative, beneficiaries=residents(initiative, 1))
    assert refused.value.code == "initiative_archived"


# --- Expire ----------------------------------------------------------------------------------


def test_expire_while_still_valid_is_refused_with_not_expired_yet():
    voucher = factories.voucher()
    with pytest.raises(VoucherError) as refused:
        voucher_expire(voucher=voucher, today=voucher.valid_until)
    assert refused.value.code == "not_expired_yet"
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE


def test_expire_returns_the_residual_to_the_calls_budget_in_the_ledger():
    initiative = factories.initiative(face_value="100.00", budget="1000.00")
    voucher = factories.voucher(initiative=initiative)
    spend(voucher, "30.00")
    budget_before = budget(initiative)

    expired = voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))

    assert expired.status == Voucher.Status.EXPIRED
    assert expired.balance == Decimal("0.00")
    assert expired.closed_at is not None
    assert expired.closed_reason
    assert budget(initiative) == budget_before + Decimal("70.00")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("0.00")
    journal = Journal.objects.get(kind=Journal.Kind.VOUCHER_EXPIRED)
    assert sorted(p.amount for p in journal.postings.all()) == [Decimal("-70.00"), Decimal("70.00")]
    assert not unbalanced_journals().exists()


def test_expire_twice_changes_nothing_the_second_time():
    voucher = factories.voucher()
    later = voucher.valid_until + timedelta(days=1)
    voucher_expire(voucher=voucher, today=later)
    voucher.refresh_from_db()
    closed_at = voucher.closed_at
    journals = Journal.objects.count()
    again = voucher_expire(voucher=voucher, today=later + timedelta(days=5))
    assert again.status == Voucher.Status.EXPIRED
    assert again.closed_at == closed_at
    assert Journal.objects.count() == journals


def test_expire_of_a_voucher_spent_in_full_changes_nothing():
    voucher = factories.voucher()
    spend(voucher, "100.00")
    journals = Journal.objects.count()
    after = voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))
    assert after.status == Voucher.Status.EXHAUSTED
    assert Journal.objects.count() == journals


def test_expire_of_a_revoked_voucher_changes_nothing():
    voucher = factories.voucher()
    voucher_revoke(voucher=voucher, reason="Doppia emissione")
    after = voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))
    assert after.status == Voucher.Status.REVOKED


def test_expire_due_expires_only_vouchers_whose_validity_ended():
    ended = factories.initiative(
        valid_from=today() - timedelta(days=60), valid_until=today() - timedelta(days=1)
    )
    running = factories.initiative()
    old = voucher_issue_bulk(initiative=ended, beneficiaries=residents(ended, 2))
    current = factories.voucher(initiative=running)
    budget_before = budget(ended)

    assert vouchers_expire_due() == 2

    assert set(
        Voucher.objects.filter(pk__in=[v.pk for v in old]).values_list("status", flat=True)
    ) == {Voucher.Status.EXPIRED}
    current.refresh_from_db()
    assert current.status == Voucher.Status.ACTIVE
    assert budget(ended) == budget_before + Decimal("200.00")
    assert vouchers_expire_due() == 0


def test_expire_due_on_a_later_day_expires_what_ended_by_then():
    voucher = factories.voucher()
    assert vouchers_expire_due(today=voucher.valid_until) == 0
    assert vouchers_expire_due(today=voucher.valid_until + timedelta(days=1)) == 1
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED


# --- Revoke ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_revoke_without_a_reason_is_refused_with_reason_required(reason):
    voucher = factories.voucher()
    journals = Journal.objects.count()
    with pytest.raises(VoucherError) as refused:
        voucher_revoke(voucher=voucher, reason=reason)
    assert refused.value.code == "reason_required"
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    assert Journal.objects.count() == journals


def test_revoke_returns_the_residual_to_the_budget_and_keeps_the_reason():
    initiative = factories.initiative(face_value="100.00", budget="1000.00")
    voucher = factories.voucher(initiative=initiative)
    spend(voucher, "12.34")
    budget_before = budget(initiative)
    staff = factories.user()

    revoked = voucher_revoke(
        voucher=voucher, reason="  Trasferito in altro comune ", revoked_by=staff
    )

    assert revoked.status == Voucher.Status.REVOKED
    assert revoked.balance == Decimal("0.00")
    assert revoked.closed_reason == "Trasferito in altro comune"
    assert budget(initiative) == budget_before + Decimal("87.66")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("0.00")
    assert Journal.objects.get(kind=Journal.Kind.VOUCHER_REVOKED).created_by == staff


def test_revoke_twice_changes_nothing_the_second_time():
    voucher = factories.voucher()
    voucher_revoke(voucher=voucher, reason="Errore")
    journals = Journal.objects.count()
    again = voucher_revoke(voucher=voucher, reason="Di nuovo")
    assert again.status == Voucher.Status.REVOKED
    assert again.closed_reason == "Errore"
    assert Journal.objects.count() == journals


def test_revoke_of_an_expired_voucher_is_refused_with_voucher_expired():
    voucher = factories.voucher()
    voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))
    with pytest.raises(VoucherError) as refused:
        voucher_revoke(voucher=voucher, reason="Troppo tardi")
    assert refused.value.code == "voucher_expired"


def test_revoke_of_a_voucher_spent_in_full_posts_no_empty_journal():
    voucher = factories.voucher()
    spend(voucher, "100.00")
    postings = Posting.objects.count()
    revoked = voucher_revoke(voucher=voucher, reason="Controllo")
    assert revoked.status == Voucher.Status.REVOKED
    assert Posting.objects.count() == postings


def test_a_large_issue_writes_every_voucher_and_posting_once():
    """Above 500 rows PostgreSQL takes the COPY path: the books must come out the same."""
    initiative = factories.initiative(face_value="1.00", partial_allowed=False, budget="700.00")
    holder = factories.beneficiary(municipality=initiative.municipalities.first())
    issued = voucher_issue_bulk(initiative=initiative, beneficiaries=[holder], quantity=600)
    assert len(issued) == len({v.pk for v in issued}) == 600
    assert Voucher.objects.filter(initiative=initiative).count() == 600
    assert all(voucher_ledger_balance(voucher_id=v.pk) == Decimal("1.00") for v in issued[:5])
    assert voucher_ledger_balance(voucher_id=issued[-1].pk) == Decimal("1.00")
    assert not unbalanced_journals().exists()
    assert initiative_budget_available(initiative=initiative) == Decimal("100.00")
