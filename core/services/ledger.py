"""The double-entry ledger: a balanced journal and its postings, the fund account's line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.bulk import COPY_MIN_ROWS, copy_rows, copy_supported
from core.errors import DomainError
from core.models import Account, Fund, Journal, Posting
from core.money import ZERO


class LedgerError(DomainError):
    messages = {
        "unbalanced_journal": _("La registrazione contabile non è in pareggio."),
        "invalid_posting": _("Ogni riga ha un importo diverso da zero, con due decimali."),
    }


@dataclass(frozen=True, slots=True)
class Line:
    """One line to post: an account (by key), a signed amount and optional tags."""

    account_key: str
    amount: Decimal
    account_kind: str
    account_name: str = ""
    voucher_ref: int | None = None
    merchant_ref: int | None = None


def fund_account_line(*, fund: Fund, amount: Decimal) -> Line:
    return Line(f"fund:{fund.pk}", amount, Account.Kind.FUND, f"Fondo {fund.name}")


def _accounts_for(lines: Sequence[Line]) -> dict[str, int]:
    wanted = {line.account_key: line for line in lines}
    found = dict(Account.objects.filter(key__in=wanted).values_list("key", "id"))
    missing = [key for key in wanted if key not in found]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    key=key,
                    kind=wanted[key].account_kind,
                    name=wanted[key].account_name or key,
                )
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found.update(Account.objects.filter(key__in=missing).values_list("key", "id"))
    return found


def journal_post(
    *,
    kind: str,
    lines: Sequence[Line],
    memo: str = "",
    created_by: User | None = None,
) -> Journal:
    """Record a balanced journal; refuse one whose lines do not sum to zero."""
    if not lines:
        raise LedgerError("unbalanced_journal")
    total = ZERO
    cent = Decimal("0.01")
    for line in lines:
        if line.amount == ZERO or line.amount != line.amount.quantize(cent):
            raise LedgerError("invalid_posting")
        total += line.amount
    if total != ZERO:
        raise LedgerError("unbalanced_journal")
    # Callers post inside their own transaction (a redemption, a void…) and let any error
    # roll it back whole: a savepoint would only add two round trips to every movement.
    with transaction.atomic(savepoint=False):
        accounts = _accounts_for(lines)
        journal = Journal.objects.create(kind=kind, memo=memo[:255], created_by=created_by)
        if len(lines) >= COPY_MIN_ROWS and copy_supported(Posting):
            # An issue of thousands of vouchers: stream the postings, no model instances.
            copy_rows(
                Posting,
                ["journal_id", "account_id", "amount", "voucher_ref", "merchant_ref"],
                (
                    (
                        journal.pk,
                        accounts[line.account_key],
                        line.amount,
                        line.voucher_ref,
                        line.merchant_ref,
                    )
                    for line in lines
                ),
            )
        else:
            Posting.objects.bulk_create(
                [
                    Posting(
                        journal=journal,
                        account_id=accounts[line.account_key],
                        amount=line.amount,
                        voucher_ref=line.voucher_ref,
                        merchant_ref=line.merchant_ref,
                    )
                    for line in lines
                ]
            )
    return journal
