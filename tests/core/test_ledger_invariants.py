"""Property: whatever sequence of issues, redemptions, voids, expiries, revocations,
settlements and bank payments of settlements happens, the ledger stays balanced and
agrees with the rows it mirrors."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.money import ZERO
from core.selectors import account_balance, unbalanced_journals
from core.services.payments import (
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from merchants.models import Merchant, MerchantStaff, Redemption, Settlement
from merchants.selectors import merchant_payable, settlements_awaiting_payment
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlement_create
from merchants.services.tills import Till
from merchants.services.voids import redemption_void
from tests import factories
from vouchers.models import Initiative, Voucher
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.expiry import voucher_expire, voucher_revoke
from vouchers.services.issuing import voucher_issue_bulk

CENT = Decimal("0.01")

# Sales are the common case; expiries and revocations end a voucher, so they come rarer.
KINDS = ["redeem"] * 5 + ["void"] * 2 + ["settle", "pay"] * 2 + ["issue", "expire", "revoke"]
operations = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 15),  # which voucher or redemption
    st.integers(0, 2),  # which shop (the third is outside the circuit)
    st.one_of(st.just("balance"), st.just("none"), st.integers(1, 30_000)),  # cents
    st.integers(0, 40),  # Idempotency-Key: a few repeat, for replays and reuses
)


class Programme:
    """One call with two shops in its circuit and one outside, driven through the services."""

    def __init__(self, *, face_cents: int, partial: bool, budget_cents: int):
        self.budget = Decimal(budget_cents) * CENT
        self.initiative: Initiative = factories.initiative(
            face_value=Decimal(face_cents) * CENT, partial_allowed=partial, budget=self.budget
        )
        self.town = self.initiative.municipalities.get()
        inside = [factories.merchant(initiative=self.initiative) for _ in range(2)]
        outside = factories.merchant(
            categories=list(self.initiative.allowed_categories.all()),
            municipalities=[factories.municipality()],
        )
        self.merchants: list[Merchant] = [*inside, outside]
        self.beneficiaries = []
        self.vouchers: list[Voucher] = []
        self.redemptions: list[Redemption] = []
        self.clerk, self.manager = factories.user(), factories.user()

    @staticmethod
    def pick(items: list, index: int):
        return items[index % len(items)] if items else None

    def issue(self, newcomers: int, with_served: bool) -> None:
        people = [factories.beneficiary(municipality=self.town) for _ in range(newcomers)]
        if with_served:
            people += self.beneficiaries[:2]
        self.beneficiaries += people[:newcomers]
        self.vouchers += voucher_issue_bulk(initiative=self.initiative, beneficiaries=people)

    def redeem(self, voucher_index: int, merchant_index: int, amount, key: int) -> None:
        voucher = self.pick(self.vouchers, voucher_index)
        if voucher is None:
            return
        voucher.refresh_from_db()
        if amount == "none":
            value = None
        elif amount == "balance":
            value = str(voucher.balance)
        else:
            value = str(Decimal(amount) * CENT)
        result = voucher_redeem(
            till=Till(merchant=self.pick(self.merchants, merchant_index)),
            code=voucher.code,
            amount=value,
            idempotency_key=f"sale-{key}",
        )
        if not result.replayed:
            self.redemptions.append(result.redemption)

    def void(self, redemption_index: int, merchant_index: int) -> None:
        redemption = self.pick(self.redemptions, redemption_index)
        if redemption is None:
            return
        till = Till(
            merchant=self.pick(self.merchants, merchant_index), role=MerchantStaff.Role.OWNER
        )
        redemption_void(till=till, redemption_id=redemption.pk)

    def expire(self, voucher_index: int) -> None:
        voucher = self.pick(self.vouchers, voucher_index)
        if voucher is not None:
            voucher_expire(voucher=voucher, today=voucher.valid_until + timedelta(days=1))

    def revoke(self, voucher_index: int) -> None:
        voucher = self.pick(self.vouchers, voucher_index)
        if voucher is not None:
            voucher_revoke(voucher=voucher, reason="Verifica dei requisiti")

    def settle(self, merchant_index: int) -> None:
        settlement_create(merchant=self.pick(self.merchants, merchant_index))

    def pay(self, merchant_index: int) -> None:
        """The agency pays the shop's open settlements: prepared, released by another, paid."""
        merchant = self.pick(self.merchants, merchant_index)
        settlements = list(settlements_awaiting_payment().filter(merchant=merchant))
        if not settlements:
            return
        batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=self.clerk)
        payment_batch_release(batch=batch, released_by=self.manager)
        payment_batch_export(batch=batch, out=io.BytesIO(), exported_by=self.manager)
        payment_batch_mark_paid(batch=batch, by=self.manager)

    def run(self, operation: tuple) -> None:
        kind, index, shop, amount, key = operation
        try:
            if kind == "redeem":
                self.redeem(index, shop, amount, key)
            elif kind == "void":
                self.void(index, shop)
            elif kind == "settle":
                self.settle(shop)
            elif kind == "issue":
                self.issue(index % 4, with_served=shop == 0)  # index 0-3 newcomers
            elif kind == "expire":
                self.expire(index)
            elif kind == "pay":
                self.pay(shop)
            else:
                self.revoke(index)
        except DomainError:
            pass  # a refusal is an allowed outcome; what it must not do is break the books

    def assert_books_agree(self) -> None:
        assert list(unbalanced_journals()) == []

        for voucher in Voucher.objects.filter(initiative=self.initiative):
            assert voucher.balance == voucher_ledger_balance(voucher_id=voucher.pk), voucher
            assert ZERO <= voucher.balance <= voucher.face_value
            spent = sum(
                (
                    r.amount
                    for r in voucher.redemptions.all()
                    if r.status == Redemption.Status.CONFIRMED
                ),
                ZERO,
            )
            if voucher.status in (Voucher.Status.ACTIVE, Voucher.Status.EXHAUSTED):
                assert voucher.balance == voucher.face_value - spent
                assert (voucher.balance == ZERO) == (voucher.status == Voucher.Status.EXHAUSTED)
            else:
                assert voucher.balance == ZERO

        payable = settled = ZERO
        for merchant in self.merchants:
            unsettled = sum(
                (
                    r.amount
                    for r in Redemption.objects.filter(
                        merchant=merchant, status=Redemption.Status.CONFIRMED, settlement=None
                    )
                ),
                ZERO,
            )
            assert merchant_payable(merchant_id=merchant.pk) == unsettled
            still_settled = account_balance(key=merchant.settled_account_key)
            paid = account_balance(key=f"merchant:{merchant.pk}:paid")
            settlements = Settlement.objects.filter(merchant=merchant)
            assert still_settled + paid == sum((s.total for s in settlements), ZERO)
            assert paid == sum(
                (s.total for s in settlements if s.payment_line and s.payment_line.paid_at),
                ZERO,
            )
            payable += unsettled
            settled += still_settled + paid
        assert not Redemption.objects.filter(merchant=self.merchants[2]).exists()
        assert not Redemption.objects.filter(
            status=Redemption.Status.VOIDED, settlement__isnull=False
        ).exists()

        budget = account_balance(key=self.initiative.budget_account_key)
        outstanding = account_balance(key=self.initiative.outstanding_account_key)
        assert budget >= ZERO and outstanding >= ZERO
        assert budget + outstanding + payable + settled == self.budget


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    face_cents=st.integers(1, 15_000),
    partial=st.booleans(),
    budget_vouchers=st.integers(1, 8),
    first_holders=st.integers(1, 3),
    extra_budget_cents=st.integers(0, 999),
    operations=st.lists(operations, min_size=8, max_size=30),
)
def test_the_ledger_stays_balanced_and_agrees_with_vouchers_and_shops(
    face_cents, partial, budget_vouchers, extra_budget_cents, first_holders, operations
):
    with transaction.atomic():
        programme = Programme(
            face_cents=face_cents,
            partial=partial,
            budget_cents=face_cents * budget_vouchers + extra_budget_cents,
        )
        programme.run(("issue", first_holders, 1, "none", 0))
        for operation in operations:
            programme.run(operation)
        programme.assert_books_agree()
        for shop in (0, 1):  # close the period: what is left is settled and paid by the bank
            programme.run(("settle", 0, shop, "none", 0))
            programme.run(("pay", 0, shop, "none", 0))
        programme.assert_books_agree()
        for merchant in programme.merchants:
            assert account_balance(key=merchant.settled_account_key) == ZERO
        transaction.set_rollback(True)
