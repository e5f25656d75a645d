"""State changes of the shared core: the ledger, funds and contributions."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Contribution, Fund, Journal, Organization, Posting
from core.money import ZERO, positive_euro


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
    created_by=None,
) -> Journal:
    """Record a balanced journal; refuse one whose lines do not sum to zero."""
    if not lines:
        raise LedgerError("unbalanced_journal")
    total = ZERO
    for line in lines:
        if line.amount == ZERO or line.amount != line.amount.quantize(Decimal("0.01")):
            raise LedgerError("invalid_posting")
        total += line.amount
    if total != ZERO:
        raise LedgerError("unbalanced_journal")
    with transaction.atomic():
        accounts = _accounts_for(lines)
        journal = Journal.objects.create(kind=kind, memo=memo[:255], created_by=created_by)
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


class FundError(DomainError):
    messages = {
        "not_a_funder": _("Solo un finanziatore o un comune può versare un contributo."),
        "insufficient_fund": _("Il fondo non ha abbastanza disponibilità."),
    }


def contribution_record(
    *,
    fund: Fund,
    funder: Organization,
    amount: Decimal | str,
    received_on: date,
    document_reference: str = "",
    recorded_by=None,
) -> Contribution:
    """Record money a funder put into a fund, with its ledger entry."""
    amount = positive_euro(amount)
    if funder.kind not in (Organization.Kind.FUNDER, Organization.Kind.MUNICIPALITY):
        raise FundError("not_a_funder")
    with transaction.atomic():
        journal = journal_post(
            kind=Journal.Kind.CONTRIBUTION,
            lines=[
                Line(
                    f"funder:{funder.pk}:source",
                    -amount,
                    Account.Kind.FUNDER_SOURCE,
                    f"Contributi di {funder.name}",
                ),
                fund_account_line(fund=fund, amount=amount),
            ],
            memo=f"{funder.name}: {document_reference}",
            created_by=recorded_by,
        )
        return Contribution.objects.create(
            fund=fund,
            funder=funder,
            amount=amount,
            received_on=received_on,
            document_reference=document_reference,
            journal=journal,
        )
