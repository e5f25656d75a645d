"""Payment batches (distinte): prepare, release with four eyes, export, mark paid, reconcile.

A batch is a list of SEPA credit transfers from the agency's account. Its life:
``prepared`` by one person → ``released`` by another → ``exported`` as a pain.001 file →
``paid`` when the bank confirms, by hand or with its camt.054 debit notification; a batch not
yet paid can be ``cancelled`` with a reason.

The ledger: a settlement already moved a shop's money from its payable account to its
settled account (``merchant:<id>:settled``). When the bank pays the transfer, a
``settlement_paid`` journal moves it on to ``merchant:<id>:paid``: the settled account then
holds what is settled but not yet paid, the paid account what the shop received. A
reimbursement approved for a person, or a cash contribution granted to him, sits on
``beneficiary:<id>:payable``; its transfer, when paid, moves it to ``beneficiary:<id>:paid``
(``beneficiary_paid``).
"""

import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from lxml import etree
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch, PaymentLine
from core.money import CENT, ZERO, InvalidAmount, positive_euro
from core.sepa import NAME_LENGTH, REMITTANCE_LENGTH, payment_batch_xml, sepa_text
from core.services import Line, journal_post

BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
CHUNK = 5000  # ids per IN (…) list: SQLite accepts at most 32,766 parameters


class PaymentError(DomainError):
    messages = {
        "no_lines": _("Una distinta contiene almeno un bonifico."),
        "invalid_kind": _("Tipo di distinta sconosciuto."),
        "invalid_iban": _("IBAN non valido per «%(name)s»."),
        "invalid_bic": _("BIC non valido per «%(name)s»."),
        "invalid_amount": _("Importo non valido per «%(name)s»: serve almeno un centesimo."),
        "invalid_creditor": _("Manca il nome del beneficiario di un bonifico."),
        "invalid_country": _("Il paese di «%(name)s» è un codice di due lettere (IT)."),
        "merchant_required": _("Ogni bonifico di una distinta di liquidazioni indica il negozio."),
        "beneficiary_required": _(
            "Il bonifico di una richiesta di rimborso indica la persona pagata."
        ),
        "execution_date_past": _("La data di esecuzione non può essere nel passato."),
        "debtor_not_configured": _(
            "Il conto dell'agenzia (AGENCY_DEBTOR_IBAN e AGENCY_DEBTOR_BIC) non è valido."
        ),
        "four_eyes": _(
            "La distinta deve essere autorizzata da una persona diversa da chi l'ha preparata."
        ),
        "invalid_transition": _(
            "Una distinta «%(from_status)s» non può diventare «%(to_status)s»."
        ),
        "not_released": _("Si esporta solo una distinta autorizzata."),
        "not_exported": _("Si segna pagata solo una distinta esportata e inviata alla banca."),
        "partially_paid": _("La banca ha già pagato una parte di questa distinta: non si annulla."),
        "reason_required": _("Indica il motivo."),
        "invalid_camt": _("Il file non è una notifica di addebito camt.054 leggibile."),
    }


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """One transfer to put in a batch, before it gets its end-to-end id."""

    creditor_name: str
    iban: str
    amount: Decimal
    remittance: str
    street: str = ""
    building_number: str = ""
    postcode: str = ""
    town: str = ""
    country: str = "IT"
    bic: str = ""
    merchant_ref: int | None = None
    beneficiary_ref: int | None = None
    claim_ref: int | None = None
    application_ref: int | None = None


_STREET_AND_NUMBER = re.compile(
    r"^(?P<street>.*?\S)[\s,]+(?:n\.?\s*|civ\.?\s*)?(?P<number>\d+\s*[A-Za-z]?(?:/\s*\w+)?)$"
)


def street_and_number(address: str) -> tuple[str, str]:
    """Split ``"Via Roma, 12/B"`` into ``("Via Roma", "12/B")``; no number gives ``""``."""
    address = " ".join((address or "").split())
    found = _STREET_AND_NUMBER.match(address)
    if not found:
        return address, ""
    return found["street"].rstrip(","), found["number"].replace(" ", "")


def next_business_day(day: date | None = None) -> date:
    """The first weekday after ``day`` (today by default): when a bank executes a transfer."""
    day = day or timezone.localdate()
    day = date.fromordinal(day.toordinal() + 1)
    while day.weekday() >= 5:
        day = date.fromordinal(day.toordinal() + 1)
    return day


def _compact_iban(value: str, name: str) -> str:
    try:
        return IBAN(value, validate_bban=True).compact
    except SchwiftyException as exc:
        raise PaymentError("invalid_iban", name=name) from exc


def _debtor() -> dict[str, str]:
    try:
        iban = IBAN(settings.AGENCY_DEBTOR_IBAN, validate_bban=True).compact
    except SchwiftyException as exc:
        raise PaymentError("debtor_not_configured") from exc
    bic = settings.AGENCY_DEBTOR_BIC.replace(" ", "").upper()
    country = settings.AGENCY_DEBTOR_COUNTRY.upper()
    if not BIC_PATTERN.fullmatch(bic) or not COUNTRY_PATTERN.fullmatch(country):
        raise PaymentError("debtor_not_configured")
    return {
        "debtor_name": sepa_text(settings.AGENCY_DEBTOR_NAME, NAME_LENGTH),
        "debtor_iban": iban,
        "debtor_bic": bic,
        "debtor_street": sepa_text(settings.AGENCY_DEBTOR_STREET, 70),
        "debtor_building_number": sepa_text(settings.AGENCY_DEBTOR_BUILDING_NUMBER, 16),
        "debtor_postcode": sepa_text(settings.AGENCY_DEBTOR_POSTCODE, 16),
        "debtor_town": sepa_text(settings.AGENCY_DEBTOR_TOWN, 35),
        "debtor_country": country,
    }


def _payment_line(order: PaymentOrder, *, kind: str) -> PaymentLine:
    """Check one order and return its unsaved line, in the SEPA character set."""
    name = sepa_text(order.creditor_name, NAME_LENGTH)
    if not name:
        raise PaymentError("invalid_creditor")
    try:
        amount = positive_euro(order.amount)
    except (InvalidAmount, TypeError) as exc:
        raise PaymentError("invalid_amount", name=name) from exc
    bic = (order.bic or "").replace(" ", "").upper()
    if bic and not BIC_PATTERN.fullmatch(bic):
        raise PaymentError("invalid_bic", name=name)
    country = (order.country or "").upper()
    if not COUNTRY_PATTERN.fullmatch(country):
        raise PaymentError("invalid_country", name=name)
    if kind == PaymentBatch.Kind.MERCHANT_SETTLEMENTS and order.merchant_ref is None:
        raise PaymentError("merchant_required")
    if (
        order.claim_ref is not None or order.application_ref is not None
    ) and order.beneficiary_ref is None:
        raise PaymentError("beneficiary_required")
    return PaymentLine(
        creditor_name=name,
        creditor_iban=_compact_iban(order.iban, name),
        creditor_bic=bic,
        street=sepa_text(order.street, 70),
        building_number=sepa_text(order.building_number, 16),
        postcode=sepa_text(order.postcode, 16),
        town=sepa_text(order.town, 35),
        country=country,
        amount=amount,
        remittance=sepa_text(order.remittance, REMITTANCE_LENGTH),
        merchant_ref=order.merchant_ref,
        beneficiary_ref=order.beneficiary_ref,
        claim_ref=order.claim_ref,
        application_ref=order.application_ref,
    )


def payment_batch_prepare(
    *,
    kind: str,
    lines: Iterable[PaymentOrder],
    prepared_by,
    execution_date: date | None = None,
) -> PaymentBatch:
    """Prepare a batch of credit transfers, one line per order, in the orders' order.

    The message id (``BC`` + date + batch number + 6 random hex digits, 24 characters) is
    unique across installations too; each line's end-to-end id is the message id and the
    line's position, so the lines ordered by id follow the orders.
    """
    if kind not in PaymentBatch.Kind.values:
        raise PaymentError("invalid_kind")
    execution_date = execution_date or next_business_day()
    if execution_date < timezone.localdate():
        raise PaymentError("execution_date_past")
    debtor = _debtor()
    payment_lines = [_payment_line(order, kind=kind) for order in lines]
    if not payment_lines:
        raise PaymentError("no_lines")
    now = timezone.now()
    with transaction.atomic():
        batch = PaymentBatch.objects.create(
            kind=kind,
            message_id=uuid.uuid4().hex,  # replaced below, once the batch has its number
            requested_execution_date=execution_date,
            total=sum((line.amount for line in payment_lines), ZERO),
            transfers_count=len(payment_lines),
            prepared_by=prepared_by,
            prepared_at=now,
            **debtor,
        )
        local = timezone.localdate(now)
        batch.message_id = f"BC{local:%Y%m%d}{batch.pk:08d}{secrets.token_hex(3).upper()}"
        batch.save(update_fields=["message_id"])
        for position, line in enumerate(payment_lines, start=1):
            line.batch = batch
            line.end_to_end_id = f"{batch.message_id}-{position:06d}"
        PaymentLine.objects.bulk_create(payment_lines, batch_size=2000)
    return batch


def _locked(batch: PaymentBatch) -> PaymentBatch:
    return PaymentBatch.objects.select_for_update().get(pk=batch.pk)


def _invalid_transition(current: PaymentBatch, status: str) -> PaymentError:
    return PaymentError(
        "invalid_transition",
        from_status=current.get_status_display(),
        to_status=PaymentBatch.Status(status).label,
    )


def payment_batch_release(*, batch: PaymentBatch, released_by) -> PaymentBatch:
    """Release a prepared batch for export; the releaser is never who prepared it.

    Releasing a batch that is already released (or further on) changes nothing.
    """
    with transaction.atomic():
        current = _locked(batch)
        if current.status == PaymentBatch.Status.PREPARED:
            if released_by is None or released_by.pk == current.prepared_by_id:
                raise PaymentError("four_eyes")
            current.status = PaymentBatch.Status.RELEASED
            current.released_by = released_by
            current.released_at = timezone.now()
            current.save(update_fields=["status", "released_by", "released_at"])
        elif current.status == PaymentBatch.Status.CANCELLED:
            raise _invalid_transition(current, PaymentBatch.Status.RELEASED)
    batch.refresh_from_db()
    return current


def payment_batch_export(*, batch: PaymentBatch, out: BinaryIO, exported_by=None) -> PaymentBatch:
    """Write a released batch's pain.001 file to ``out`` and mark the batch exported.

    Exporting it again writes the very same bytes (the creation time in the file is the
    first export's), so a lost file can be produced again without a second payment.
    """
    with transaction.atomic():
        current = _locked(batch)
        if current.status not in (
            PaymentBatch.Status.RELEASED,
            PaymentBatch.Status.EXPORTED,
            PaymentBatch.Status.PAID,
        ):
            raise PaymentError("not_released")
        if current.status == PaymentBatch.Status.RELEASED:
            current.status = PaymentBatch.Status.EXPORTED
            current.exported_at = timezone.now().replace(microsecond=0)
            current.exported_by = exported_by
            current.save(update_fields=["status", "exported_at", "exported_by"])
        # Written inside the transaction: if the file cannot be written, the batch stays
        # released.
        payment_batch_xml(current, out)
    batch.refresh_from_db()
    return current


def _merchant_paid_lines(rows: Sequence[tuple[int, Decimal, int | None]]) -> list[Line]:
    per_merchant: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for _pk, amount, merchant_ref in rows:
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
            PaymentLine.objects.filter(pk__in=ids[start : start + CHUNK])
            .exclude(beneficiary_ref=None)
            .values_list("pk", "beneficiary_ref")
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
    *, batch: PaymentBatch, rows: Sequence[tuple[int, Decimal, int | None]], by=None
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


# Functions the apps that build on core register to follow up, in the same transaction,
# on the lines the bank paid (a reimbursement claim becomes paid): core imports no app.
_paid_line_handlers: dict[str, list[Callable[[list[int]], None]]] = defaultdict(list)


def payment_lines_paid_handler(kind: str):
    """Register ``handler(line_ids)``, called when lines of a batch of this kind are paid."""

    def register(handler: Callable[[list[int]], None]):
        if handler not in _paid_line_handlers[kind]:
            _paid_line_handlers[kind].append(handler)
        return handler

    return register


def _lines_paid(
    *, batch: PaymentBatch, rows: Sequence[tuple[int, Decimal, int | None]], by, now: datetime
) -> None:
    journal = _payment_journal(batch=batch, rows=rows, by=by)
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), CHUNK):
        PaymentLine.objects.filter(pk__in=ids[start : start + CHUNK], paid_at=None).update(
            paid_at=now, journal=journal
        )
    for handler in _paid_line_handlers.get(batch.kind, []):
        handler(ids)


def _batch_paid(*, batch: PaymentBatch, by, now: datetime) -> None:
    batch.status = PaymentBatch.Status.PAID
    batch.paid_at = now
    batch.paid_by = by
    batch.save(update_fields=["status", "paid_at", "paid_by"])


def payment_batch_mark_paid(*, batch: PaymentBatch, by) -> PaymentBatch:
    """Mark an exported batch paid by hand, with every transfer not yet confirmed.

    Marking a paid batch again changes nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        current = _locked(batch)
        if current.status != PaymentBatch.Status.PAID:
            if current.status != PaymentBatch.Status.EXPORTED:
                raise PaymentError("not_exported")
            rows = list(
                current.lines.filter(paid_at=None)
                .order_by("pk")
                .values_list("pk", "amount", "merchant_ref")
            )
            _lines_paid(batch=current, rows=rows, by=by, now=now)
            _batch_paid(batch=current, by=by, now=now)
    batch.refresh_from_db()
    return current


def payment_batch_cancel(*, batch: PaymentBatch, by, reason: str) -> PaymentBatch:
    """Cancel a batch the bank has not paid, with a reason; cancelling again changes nothing.

    The money it would have paid stays where it was (a shop's settled account), ready for a
    new batch.
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        current = _locked(batch)
        if current.status != PaymentBatch.Status.CANCELLED:
            if current.status == PaymentBatch.Status.PAID:
                raise _invalid_transition(current, PaymentBatch.Status.CANCELLED)
            if current.lines.exclude(paid_at=None).exists():
                raise PaymentError("partially_paid")
            if not reason:
                raise PaymentError("reason_required")
            current.status = PaymentBatch.Status.CANCELLED
            current.cancelled_by = by
            current.cancelled_at = timezone.now()
            current.cancel_reason = reason[:255]
            current.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
    batch.refresh_from_db()
    return current


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


def _money(element) -> tuple[Decimal | None, str]:
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


def payment_batch_reconcile_camt054(*, xml_bytes: bytes, by=None) -> ReconciliationReport:
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
                if batch is None or (debit.message_id and debit.message_id != batch.message_id):
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
            _lines_paid(batch=batch, rows=rows, by=by, now=now)
            report.paid.extend(references_paid[row[0]] for row in rows)
            if not batch.lines.filter(paid_at=None).exists():
                _batch_paid(batch=batch, by=by, now=now)
                report.batches_paid.append(batch.message_id)
    return report
