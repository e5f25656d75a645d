"""Reconciling payment batches with the bank's camt.054 debit notification."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from lxml import etree

from core.models import PaymentBatch, PaymentLine
from core.money import CENT
from core.services.payment_ledger import CHUNK, batch_paid, lines_paid
from core.services.payments import PaymentError

# --- camt.054: the bank's debit notification ---------------------------------------------

CAMT054_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054."


@dataclass(frozen=True, slots=True)
class BankDebit:
    """One debit the bank reports: a transfer (by end-to-end id) or a whole batch."""

    booked: bool
    amount: Decimal | None
    currency: str
    end_to_end_id: str = ""
    message_id: str = ""
    payment_information_id: str = ""
    transactions_count: int | None = None

    @property
    def reference(self) -> str:
        return self.end_to_end_id or self.message_id or self.payment_information_id


@dataclass(frozen=True, slots=True)
class AmountMismatch:
    reference: str
    expected: Decimal
    reported: Decimal | None
    currency: str


@dataclass
class ReconciliationReport:
    """What a camt.054 import did: ids are end-to-end ids, or message ids for whole batches."""

    paid: list[str] = field(default_factory=list)
    already_paid: list[str] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)
    amount_mismatches: list[AmountMismatch] = field(default_factory=list)
    not_booked: list[str] = field(default_factory=list)
    not_exported: list[str] = field(default_factory=list)
    batches_paid: list[str] = field(default_factory=list)

    @property
    def matched(self) -> list[str]:
        return self.paid + self.already_paid


def _money(element: etree._Element | None) -> tuple[Decimal | None, str]:
    if element is None or not (element.text or "").strip():
        return None, ""
    try:
        amount = Decimal(element.text.strip())
    except InvalidOperation:
        return None, element.get("Ccy", "")
    if not amount.is_finite() or amount != amount.quantize(CENT):
        return None, element.get("Ccy", "")
    return amount.quantize(CENT), element.get("Ccy", "")


def camt054_debits(xml_bytes: bytes) -> list[BankDebit]:
    """Read the debits of a camt.054 notification (any version from .02 to .08)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(xml_bytes, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise PaymentError("invalid_camt") from exc
    namespace = etree.QName(root).namespace or ""
    if not namespace.startswith(CAMT054_NAMESPACE_PREFIX) or etree.QName(root).localname != (
        "Document"
    ):
        raise PaymentError("invalid_camt")
    ns = {"c": namespace}
    notifications = root.findall("c:BkToCstmrDbtCdtNtfctn/c:Ntfctn", ns)
    if not notifications:
        raise PaymentError("invalid_camt")
    debits: list[BankDebit] = []
    for entry in (e for n in notifications for e in n.findall("c:Ntry", ns)):
        if entry.findtext("c:CdtDbtInd", "", ns).strip() != "DBIT":
            continue  # a credit (a returned transfer, for instance) is not a payment made
        if entry.findtext("c:RvslInd", "", ns).strip() == "true":
            continue
        status = entry.findtext("c:Sts/c:Cd", None, ns) or entry.findtext("c:Sts", "", ns)
        booked = status.strip() == "BOOK"
        entry_amount, entry_currency = _money(entry.find("c:Amt", ns))
        details = entry.findall("c:NtryDtls", ns)
        transactions = [
            tx
            for detail in details
            for tx in detail.findall("c:TxDtls", ns)
            if tx.findtext("c:Refs/c:EndToEndId", "", ns).strip() not in ("", "NOTPROVIDED")
        ]
        for tx in transactions:
            amount, currency = _money(tx.find("c:Amt", ns))
            for path in ("c:AmtDtls/c:TxAmt/c:Amt", "c:AmtDtls/c:InstdAmt/c:Amt"):
                if amount is None:
                    amount, currency = _money(tx.find(path, ns))
            if amount is None and len(transactions) == 1:
                amount, currency = entry_amount, entry_currency
            debits.append(
                BankDebit(
                    booked=booked,
                    amount=amount,
                    currency=currency,
                    end_to_end_id=tx.findtext("c:Refs/c:EndToEndId", "", ns).strip(),
                    message_id=tx.findtext("c:Refs/c:MsgId", "", ns).strip(),
                    payment_information_id=tx.findtext("c:Refs/c:PmtInfId", "", ns).strip(),
                )
            )
        if transactions:
            continue
        for batch in (d.find("c:Btch", ns) for d in details):
            if batch is None:
                continue
            amount, currency = _money(batch.find("c:TtlAmt", ns))
            if amount is None:
                amount, currency = entry_amount, entry_currency
            count = batch.findtext("c:NbOfTxs", "", ns).strip()
            debits.append(
                BankDebit(
                    booked=booked,
                    amount=amount,
                    currency=currency,
                    message_id=batch.findtext("c:MsgId", "", ns).strip(),
                    payment_information_id=batch.findtext("c:PmtInfId", "", ns).strip(),
                    transactions_count=int(count) if count.isdigit() else None,
                )
            )
    return debits


def _batch_for(debit: BankDebit, batches: dict[int, PaymentBatch]) -> PaymentBatch | None:
    for batch in batches.values():
        if debit.message_id and batch.message_id == debit.message_id:
            return batch
        if debit.payment_information_id and (
            batch.payment_information_id == debit.payment_information_id
        ):
            return batch
    return None


def payment_batch_reconcile_camt054(
    *, xml_bytes: bytes, by: User | None = None
) -> ReconciliationReport:
    """Mark paid the transfers (and batches) a bank's camt.054 notification confirms.

    Transfers are matched by end-to-end id, whole batches (a batch booking without
    transaction details) by message or payment-information id. Only booked debits of the
    exact amount in euros count: anything else is reported and changes nothing. A batch is
    paid once all its transfers are. Importing the same file again changes nothing.
    """
    debits = camt054_debits(xml_bytes)
    report = ReconciliationReport()
    now = timezone.now()
    references = sorted({d.end_to_end_id for d in debits if d.end_to_end_id})
    batch_references = {
        ref
        for d in debits
        if not d.end_to_end_id
        for ref in (d.message_id, d.payment_information_id.removesuffix("-1"))
        if ref
    }
    with transaction.atomic():
        batch_ids = set(
            PaymentBatch.objects.filter(message_id__in=batch_references).values_list(
                "pk", flat=True
            )
        )
        for start in range(0, len(references), CHUNK):
            batch_ids.update(
                PaymentLine.objects.filter(end_to_end_id__in=references[start : start + CHUNK])
                .values_list("batch_id", flat=True)
                .distinct()
            )
        # Every change to a batch or its lines locks the batch first, in id order.
        batches = {
            b.pk: b
            for b in PaymentBatch.objects.select_for_update()
            .filter(pk__in=batch_ids)
            .order_by("pk")
        }
        lines: dict[str, tuple[int, int, Decimal, int | None, datetime | None]] = {}
        for start in range(0, len(references), CHUNK):
            for row in PaymentLine.objects.filter(
                end_to_end_id__in=references[start : start + CHUNK]
            ).values_list("end_to_end_id", "pk", "batch_id", "amount", "merchant_ref", "paid_at"):
                lines[row[0]] = row[1:]

        to_pay: dict[int, dict[int, tuple[int, Decimal, int | None]]] = defaultdict(dict)
        references_paid: dict[int, str] = {}
        for debit in debits:
            reference = debit.reference
            if not debit.booked:
                report.not_booked.append(reference)
                continue
            if debit.end_to_end_id:
                found = lines.get(debit.end_to_end_id)
                batch = batches.get(found[1]) if found else None
                if (
                    found is None
                    or batch is None
                    or (debit.message_id and debit.message_id != batch.message_id)
                ):
                    report.unknown_ids.append(reference)
                    continue
                pk, _batch_id, amount, merchant_ref, paid_at = found
                if paid_at is not None or pk in to_pay[batch.pk]:
                    report.already_paid.append(reference)
                    continue
                if batch.status != PaymentBatch.Status.EXPORTED:
                    report.not_exported.append(reference)
                    continue
                if debit.currency != "EUR" or debit.amount != amount:
                    report.amount_mismatches.append(
                        AmountMismatch(reference, amount, debit.amount, debit.currency)
                    )
                    continue
                to_pay[batch.pk][pk] = (pk, amount, merchant_ref)
                references_paid[pk] = reference
                continue
            batch = _batch_for(debit, batches)
            if batch is None:
                report.unknown_ids.append(reference)
            elif batch.status == PaymentBatch.Status.PAID:
                report.already_paid.append(reference)
            elif batch.status != PaymentBatch.Status.EXPORTED:
                report.not_exported.append(reference)
            elif (
                debit.currency != "EUR"
                or debit.amount != batch.total
                or debit.transactions_count not in (None, batch.transfers_count)
            ):
                report.amount_mismatches.append(
                    AmountMismatch(reference, batch.total, debit.amount, debit.currency)
                )
            else:
                for pk, end_to_end_id, amount, merchant_ref in batch.lines.filter(
                    paid_at=None
                ).values_list("pk", "end_to_end_id", "amount", "merchant_ref"):
                    to_pay[batch.pk][pk] = (pk, amount, merchant_ref)
                    references_paid[pk] = end_to_end_id

        for batch_id, rows_by_id in sorted(to_pay.items()):
            if not rows_by_id:
                continue
            batch = batches[batch_id]
            rows = [rows_by_id[pk] for pk in sorted(rows_by_id)]
            lines_paid(batch=batch, rows=rows, by=by, now=now)
            report.paid.extend(references_paid[row[0]] for row in rows)
            if not batch.lines.filter(paid_at=None).exists():
                batch_paid(batch=batch, by=by, now=now)
                report.batches_paid.append(batch.message_id)
    return report
