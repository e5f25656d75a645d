"""The ledger entry of transfers the bank paid.

A settlement already moved a shop's money from its payable account to its
settled account (``merchant:<id>:settled``). When the bank pays the transfer, a
``settlement_paid`` journal moves it on to ``merchant:<id>:paid``: the settled account then
holds what is settled but not yet paid, the paid account what the shop received. A
reimbursement approved for a person, or a cash contribution granted to him, sits on
``beneficiary:<id>:payable``; its transfer, when paid, moves it to ``beneficiary:<id>:paid``
(``beneficiary_paid``).

A payment batch's life is in ``core.services.payments``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User

from core.models import Account, Journal, PaymentBatch, PaymentLine
from core.money import ZERO
from core.services.ledger import Line, journal_post

CHUNK = 5000  # ids per IN (…) list: SQLite accepts at most 32,766 parameters


def _merchant_paid_lines(rows: Sequence[tuple[int, Decimal, int | None]]) -> list[Line]:
    per_merchant: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for _pk, amount, merchant_ref in rows:
        if merchant_ref is not None:  # every transfer of a settlements batch names its shop
            per_merchant[merchant_ref] += amount
    lines = []
    for merchant_ref, amount in sorted(per_merchant.items()):
        # The same keys as Merchant.settled_account_key: core imports no app.
        lines += [
            Line(
                f"merchant:{merchant_ref}:settled",
                -amount,
                Account.Kind.MERCHANT_SETTLED,
                f"Liquidato all'esercente {merchant_ref}",
                merchant_ref=merchant_ref,
            ),
            Line(
                f"merchant:{merchant_ref}:paid",
                amount,
                Account.Kind.MERCHANT_PAID,
                f"Pagato all'esercente {merchant_ref}",
                merchant_ref=merchant_ref,
            ),
        ]
    return lines


def beneficiary_payable_key(beneficiary_id: int) -> str:
    """The account of what the agency owes a person (approved, not yet paid)."""
    return f"beneficiary:{beneficiary_id}:payable"


def beneficiary_paid_key(beneficiary_id: int) -> str:
    return f"beneficiary:{beneficiary_id}:paid"


def _beneficiary_paid_lines(rows: Sequence[tuple[int, Decimal, int | None]]) -> list[Line]:
    """Payable → paid for the lines that pay a person; lines without one post nothing."""
    ids = [row[0] for row in rows]
    beneficiaries: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        beneficiaries.update(
            (pk, ref)
            for pk, ref in PaymentLine.objects.filter(pk__in=ids[start : start + CHUNK])
            .exclude(beneficiary_ref=None)
            .values_list("pk", "beneficiary_ref")
            if ref is not None
        )
    per_beneficiary: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for pk, amount, _merchant_ref in rows:
        if pk in beneficiaries:
            per_beneficiary[beneficiaries[pk]] += amount
    lines = []
    for beneficiary_ref, amount in sorted(per_beneficiary.items()):
        lines += [
            Line(
                beneficiary_payable_key(beneficiary_ref),
                -amount,
                Account.Kind.BENEFICIARY_PAYABLE,
                f"Debito verso il beneficiario {beneficiary_ref}",
            ),
            Line(
                beneficiary_paid_key(beneficiary_ref),
                amount,
                Account.Kind.BENEFICIARY_PAID,
                f"Pagato al beneficiario {beneficiary_ref}",
            ),
        ]
    return lines


def _payment_journal(
    *, batch: PaymentBatch, rows: Sequence[tuple[int, Decimal, int | None]], by: User | None = None
) -> Journal | None:
    """Post the ledger entry of transfers the bank paid: (line id, amount, merchant) rows.

    A shop's settled money becomes paid; a person's payable (an approved reimbursement)
    becomes paid. A beneficiary transfer with no person (entered by hand) posts nothing.
    """
    if not rows:
        return None
    if batch.kind == PaymentBatch.Kind.MERCHANT_SETTLEMENTS:
        kind, lines = Journal.Kind.SETTLEMENT_PAID, _merchant_paid_lines(rows)
    else:
        kind, lines = Journal.Kind.BENEFICIARY_PAID, _beneficiary_paid_lines(rows)
    if not lines:
        return None
    return journal_post(
        kind=kind,
        lines=lines,
        memo=f"Distinta {batch.message_id}",
        created_by=by,
    )


PaidLinesHandler = Callable[[list[int]], None]

# Functions the apps that build on core register to follow up, in the same transaction,
# on the lines the bank paid (a reimbursement claim becomes paid): core imports no app.
_paid_line_handlers: dict[str, list[PaidLinesHandler]] = defaultdict(list)


def payment_lines_paid_handler(kind: str) -> Callable[[PaidLinesHandler], PaidLinesHandler]:
    """Register ``handler(line_ids)``, called when lines of a batch of this kind are paid."""

    def register(handler: PaidLinesHandler) -> PaidLinesHandler:
        if handler not in _paid_line_handlers[kind]:
            _paid_line_handlers[kind].append(handler)
        return handler

    return register


def lines_paid(
    *,
    batch: PaymentBatch,
    rows: Sequence[tuple[int, Decimal, int | None]],
    by: User | None,
    now: datetime,
) -> None:
    """Mark paid the lines the bank paid, post their journal and call the apps' handlers."""
    journal = _payment_journal(batch=batch, rows=rows, by=by)
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), CHUNK):
        PaymentLine.objects.filter(pk__in=ids[start : start + CHUNK], paid_at=None).update(
            paid_at=now, journal=journal
        )
    for handler in _paid_line_handlers.get(batch.kind, []):
        handler(ids)


def batch_paid(*, batch: PaymentBatch, by: User | None, now: datetime) -> None:
    """Mark a batch paid; its lines are already (``lines_paid``)."""
    batch.status = PaymentBatch.Status.PAID
    batch.paid_at = now
    batch.paid_by = by
    batch.save(update_fields=["status", "paid_at", "paid_by"])
