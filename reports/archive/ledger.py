"""A call's archive: the money, from the shops' redemptions and settlements to the people's
claims, the payment batches and the ledger."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from core.models import Account, Journal, PaymentBatch, PaymentLine, Posting
from core.money import CENT, ZERO
from merchants.models import Redemption, Settlement
from reports.archive.writer import (
    SENT_BATCH_STATUSES,
    choice_labels,
    chunked,
    protocol_number,
    safe_name,
)
from vouchers.models import Expense, Initiative, ReimbursementClaim


def redemptions_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    statuses = choice_labels(Redemption.Status.choices)
    rows = (
        Redemption.objects.filter(voucher__initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "created_at",
            "voucher_id",
            "voucher__code",
            "merchant_id",
            "merchant__name",
            "merchant__vat_number",
            "amount",
            "balance_after",
            "status",
            "voided_at",
            "settlement_id",
        )
    )
    for pk, created_at, voucher_id, code, *shop, amount, after, status, voided, settled in chunked(
        rows
    ):
        yield (
            pk,
            f"{created_at:%Y}-{pk:08d}",  # as Redemption.receipt_number
            created_at,
            voucher_id,
            f"…{code[-4:]}",
            *shop,
            amount,
            after,
            statuses.get(status, status),
            voided,
            settled,
        )


def initiative_settlement_ids(initiative: Initiative) -> list[int]:
    return list(
        Redemption.objects.filter(voucher__initiative=initiative, settlement__isnull=False)
        .order_by("settlement_id")
        .values_list("settlement_id", flat=True)
        .distinct()
    )


def settlements_rows(
    initiative: Initiative, settlement_ids: list[int]
) -> Iterator[tuple[Any, ...]]:
    """Each settlement that paid redemptions of the call, and how much of it is the call's."""
    shares: dict[int, Any] = {
        row["settlement_id"]: row
        for row in Redemption.objects.filter(
            voucher__initiative=initiative, settlement_id__in=settlement_ids
        )
        .values("settlement_id")
        .annotate(total=Sum("amount"), count=Count("pk"))
        .order_by()
    }
    rows = (
        Settlement.objects.filter(pk__in=settlement_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "merchant_id",
            "merchant__name",
            "merchant__vat_number",
            "created_at",
            "redemptions_count",
            "total",
            "payment_line__batch__message_id",
            "payment_line__end_to_end_id",
            "payment_line__paid_at",
        )
    )
    for pk, *head, count, total, batch, end_to_end, paid_at in chunked(rows):
        share = shares.get(pk, {})
        # SQLite adds decimals as floats: back to cents, as money_sum does.
        initiative_total = Decimal(share.get("total") or ZERO).quantize(CENT)
        yield (
            pk,
            *head,
            count,
            total,
            share.get("count", 0),
            initiative_total,
            batch,
            end_to_end,
            paid_at,
        )


def initiative_claims(initiative: Initiative) -> QuerySet[ReimbursementClaim]:
    return ReimbursementClaim.objects.filter(initiative=initiative)


def claims_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    statuses = choice_labels(ReimbursementClaim.Status.choices)
    rows = (
        initiative_claims(initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "application__protocol_year",
            "application__protocol_sequence",
            "beneficiary__fiscal_code",
            "status",
            "submitted_at",
            "submitted_by__username",
        )
    )
    for pk, year, sequence, holder, status, *rest in chunked(rows):
        yield (pk, protocol_number(year, sequence), holder, statuses.get(status, status), *rest)


def expenses_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    statuses = choice_labels(Expense.Status.choices)
    rows = (
        Expense.objects.filter(claim__initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "claim_id",
            "spent_on",
            "category__name",
            "description",
            "amount",
            "status",
            "approved_amount",
            "refusal_reason",
            "receipt",
        )
    )
    for (
        pk,
        claim_id,
        spent_on,
        category,
        text,
        amount,
        status,
        approved,
        refusal,
        receipt,
    ) in chunked(rows):
        yield (
            pk,
            claim_id,
            spent_on,
            category,
            text,
            amount,
            statuses.get(status, status),
            approved,
            refusal,
            receipt_path(claim_id, pk, receipt) if receipt else "",
        )


def payment_batches(initiative: Initiative, settlement_ids: list[int]) -> list[PaymentBatch]:
    """The batches sent to the bank that paid the call's settlements or reimbursements."""
    claim_ids = initiative_claims(initiative).values("pk")
    paying = PaymentLine.objects.filter(
        Q(settlement__in=settlement_ids) | Q(claim_ref__in=claim_ids)
    ).values("batch_id")
    return list(
        PaymentBatch.objects.filter(pk__in=paying, status__in=SENT_BATCH_STATUSES).order_by("pk")
    )


def ledger_rows(
    initiative: Initiative, settlement_ids: list[int], batches: list[PaymentBatch]
) -> Iterator[tuple[Any, ...]]:
    """Every journal that touched the call's accounts, settled or paid its money, line by line."""
    accounts = Account.objects.filter(
        key__in=[initiative.budget_account_key, initiative.outstanding_account_key]
    ).values("pk")
    on_initiative_accounts = Posting.objects.filter(account__in=accounts).values("journal_id")
    settlement_journals = Settlement.objects.filter(pk__in=settlement_ids).values("journal_id")
    payment_journals = PaymentLine.objects.filter(
        batch__in=[b.pk for b in batches], journal__isnull=False
    ).values("journal_id")
    kinds = choice_labels(Journal.Kind.choices)
    rows = (
        Posting.objects.filter(
            Q(journal_id__in=on_initiative_accounts)
            | Q(journal_id__in=settlement_journals)
            | Q(journal_id__in=payment_journals)
        )
        .order_by("journal_id", "pk")
        .values_list(
            "journal_id",
            "journal__kind",
            "journal__memo",
            "journal__created_at",
            "journal__created_by__username",
            "pk",
            "account__key",
            "account__name",
            "amount",
            "voucher_ref",
            "merchant_ref",
        )
    )
    for journal_id, kind, *rest in chunked(rows):
        yield (journal_id, kinds.get(kind, kind), *rest)


def receipt_path(claim_id: int, expense_id: int, name: str) -> str:
    return f"allegati/scontrini/{claim_id}/{expense_id}-{safe_name(name)}"
