"""Payment batches (distinte): prepare, release with four eyes, export, mark paid.

A batch is a list of SEPA credit transfers from the agency's account. Its life:
``prepared`` by one person → ``released`` by another → ``exported`` as a pain.001 file →
``paid`` when the bank confirms, by hand or with its camt.054 debit notification; a batch not
yet paid can be ``cancelled`` with a reason.

Reconciling a batch with the bank's notification is in ``core.services.reconciliation``,
the ledger entry of what the bank paid in ``core.services.payment_ledger``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from core.errors import DomainError
from core.models import PaymentBatch, PaymentLine
from core.money import ZERO, InvalidAmount, positive_euro
from core.sepa import NAME_LENGTH, REMITTANCE_LENGTH, payment_batch_xml, sepa_text
from core.services.payment_ledger import batch_paid, lines_paid

BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")


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
    prepared_by: User,
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


def payment_batch_release(*, batch: PaymentBatch, released_by: User) -> PaymentBatch:
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


def payment_batch_export(
    *, batch: PaymentBatch, out: BinaryIO, exported_by: User | None = None
) -> PaymentBatch:
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


def payment_batch_mark_paid(*, batch: PaymentBatch, by: User) -> PaymentBatch:
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
            lines_paid(batch=current, rows=rows, by=by, now=now)
            batch_paid(batch=current, by=by, now=now)
    batch.refresh_from_db()
    return current


def payment_batch_cancel(*, batch: PaymentBatch, by: User, reason: str) -> PaymentBatch:
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
