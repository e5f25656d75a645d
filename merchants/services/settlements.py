"""Settlements: a shop's confirmed redemptions settled at their exact sum, the runs that settle
every shop, and the batches that pay them."""

from collections.abc import Iterable
from datetime import date, datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch
from core.money import ZERO
from core.services.ledger import Line, journal_post
from core.services.payments import PaymentOrder, payment_batch_prepare, street_and_number
from merchants.errors import RedemptionError
from merchants.models import Merchant, Redemption, Settlement
from merchants.selectors import merchants_to_settle, settlement_periods
from merchants.services.tills import payable_line


class SettlementError(DomainError):
    messages = {
        "no_settlements": gettext_lazy("Scegli almeno una liquidazione da pagare."),
        "already_in_batch": gettext_lazy(
            "La liquidazione n. %(settlement)s è già in una distinta di pagamento."
        ),
    }


def settlement_create(
    *, merchant: Merchant, created_by: User | None = None, until: datetime | None = None
) -> Settlement:
    """Settle every confirmed, unsettled redemption of a shop: the exact sum, no fee.

    ``until`` leaves out the redemptions made after it (a run settles up to its cutoff).
    """
    with transaction.atomic():
        pending = Redemption.objects.select_for_update().filter(
            merchant=merchant, status=Redemption.Status.CONFIRMED, settlement=None
        )
        if until is not None:
            pending = pending.filter(created_at__lte=until)
        redemptions = list(pending.order_by("pk"))
        if not redemptions:
            raise RedemptionError("nothing_to_settle")
        total = sum((r.amount for r in redemptions), ZERO)
        journal = journal_post(
            kind=Journal.Kind.SETTLEMENT,
            lines=[
                payable_line(merchant_id=merchant.pk, amount=-total),
                Line(
                    merchant.settled_account_key,
                    total,
                    Account.Kind.MERCHANT_SETTLED,
                    f"Liquidato all'esercente {merchant.pk}",
                    merchant_ref=merchant.pk,
                ),
            ],
            memo=f"Liquidazione {merchant.name}",
            created_by=created_by,
        )
        settlement = Settlement.objects.create(
            merchant=merchant,
            total=total,
            redemptions_count=len(redemptions),
            created_by=created_by,
            journal=journal,
        )
        Redemption.objects.filter(pk__in=[r.pk for r in redemptions]).update(settlement=settlement)
    return settlement


def settlements_run(
    *,
    prepared_by: User | None = None,
    merchants: Iterable[Merchant | int] | None = None,
    until: datetime | None = None,
) -> list[Settlement]:
    """Settle every accredited or suspended shop's confirmed redemptions up to ``until``.

    One settlement per shop, each in its own transaction; a shop with nothing new is left
    alone, so running it twice settles nothing the second time.
    """
    until = until or timezone.now()
    candidates = merchants_to_settle(until=until)
    if merchants is not None:
        ids = [m.pk if isinstance(m, Merchant) else int(m) for m in merchants]
        candidates = candidates.filter(pk__in=ids)
    settlements = []
    for merchant in candidates:
        try:
            settlements.append(
                settlement_create(merchant=merchant, created_by=prepared_by, until=until)
            )
        except RedemptionError as exc:
            if exc.code != "nothing_to_settle":  # another run settled it meanwhile
                raise
    return settlements


def settlement_remittance(settlement: Settlement, period: tuple[date, date]) -> str:
    """The transfer's reason, as the shop reads it on its bank statement (always Italian)."""
    first, last = period
    if first == last:
        when = f"del {first:%d/%m/%Y}"
    else:
        when = f"dal {first:%d/%m/%Y} al {last:%d/%m/%Y}"
    return f"Liquidazione BuonoComune n. {settlement.pk} {when}"


def merchant_payment_batch_prepare(
    *,
    settlements: Iterable[Settlement],
    prepared_by: User,
    execution_date: date | None = None,
) -> PaymentBatch:
    """Prepare the batch that pays these settlements: one transfer each, its exact total."""
    ids = sorted({s.pk for s in settlements})
    if not ids:
        raise SettlementError("no_settlements")
    with transaction.atomic():
        locked = list(
            Settlement.objects.select_for_update(of=("self",))
            .select_related("merchant", "payment_line__batch")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for settlement in locked:
            line = settlement.payment_line
            if line is not None and line.batch.status != PaymentBatch.Status.CANCELLED:
                raise SettlementError("already_in_batch", settlement=settlement.pk)
        periods = settlement_periods(locked)
        orders = []
        for settlement in locked:
            merchant = settlement.merchant
            street, number = street_and_number(merchant.street)
            orders.append(
                PaymentOrder(
                    creditor_name=merchant.legal_name or merchant.name,
                    iban=merchant.iban,
                    amount=settlement.total,
                    remittance=settlement_remittance(settlement, periods[settlement.pk]),
                    street=street,
                    building_number=number,
                    postcode=merchant.postal_code,
                    town=merchant.town,
                    country="IT",
                    merchant_ref=merchant.pk,
                )
            )
        batch = payment_batch_prepare(
            kind=PaymentBatch.Kind.MERCHANT_SETTLEMENTS,
            lines=orders,
            prepared_by=prepared_by,
            execution_date=execution_date,
        )
        # The lines follow the orders, which follow the settlements.
        for settlement, line in zip(locked, batch.lines.order_by("pk"), strict=True):
            settlement.payment_line = line
        Settlement.objects.bulk_update(locked, ["payment_line"])
    return batch
