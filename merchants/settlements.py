"""Settlement runs, the statement a shop receives, and the batches that pay shops."""

import io
from collections.abc import Iterable
from datetime import date, datetime

from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.errors import DomainError
from core.models import PaymentBatch
from core.money import format_euro
from core.services.payments import PaymentOrder, payment_batch_prepare, street_and_number
from merchants.errors import RedemptionError
from merchants.models import Merchant, Redemption, Settlement
from merchants.services import settlement_create


class SettlementError(DomainError):
    messages = {
        "no_settlements": gettext_lazy("Scegli almeno una liquidazione da pagare."),
        "already_in_batch": gettext_lazy(
            "La liquidazione n. %(settlement)s è già in una distinta di pagamento."
        ),
    }


# --- Reads -----------------------------------------------------------------------------------


def merchants_to_settle(*, until: datetime) -> QuerySet[Merchant]:
    """Accredited or suspended shops with confirmed, unsettled redemptions up to ``until``."""
    pending = Redemption.objects.filter(
        merchant=OuterRef("pk"),
        status=Redemption.Status.CONFIRMED,
        settlement=None,
        created_at__lte=until,
    )
    return Merchant.objects.filter(
        Exists(pending),
        status__in=[Merchant.Status.ACCREDITED, Merchant.Status.SUSPENDED],
    ).order_by("pk")


def settlements_awaiting_payment() -> QuerySet[Settlement]:
    """Settlements in no payment batch, or only in a cancelled one."""
    return Settlement.objects.filter(
        Q(payment_line=None) | Q(payment_line__batch__status=PaymentBatch.Status.CANCELLED)
    ).order_by("pk")


def settlement_periods(settlements: Iterable[Settlement]) -> dict[int, tuple[date, date]]:
    """The first and last day of the redemptions of each settlement, by settlement id."""
    rows = (
        Redemption.objects.filter(settlement__in=[s.pk for s in settlements])
        .values("settlement")
        .annotate(first=Min("created_at"), last=Max("created_at"))
        .order_by()
    )
    return {
        row["settlement"]: (timezone.localdate(row["first"]), timezone.localdate(row["last"]))
        for row in rows
    }


def settlement_remittance(settlement: Settlement, period: tuple[date, date]) -> str:
    """The transfer's reason, as the shop reads it on its bank statement (always Italian)."""
    first, last = period
    if first == last:
        when = f"del {first:%d/%m/%Y}"
    else:
        when = f"dal {first:%d/%m/%Y} al {last:%d/%m/%Y}"
    return f"Liquidazione BuonoComune n. {settlement.pk} {when}"


# --- Writes ----------------------------------------------------------------------------------


def settlements_run(
    *,
    prepared_by=None,
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


def merchant_payment_batch_prepare(
    *,
    settlements: Iterable[Settlement],
    prepared_by,
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


# --- The statement ---------------------------------------------------------------------------

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
ROW_HEIGHT = 6 * mm
COLUMNS = (MARGIN, MARGIN + 45 * mm, MARGIN + 85 * mm)  # date, receipt, voucher
AMOUNT_RIGHT = PAGE_WIDTH - MARGIN


def _when(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _statement_header(canvas: Canvas, settlement: Settlement, period, page: int) -> float:
    merchant = settlement.merchant
    top = PAGE_HEIGHT - MARGIN
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(
        MARGIN, top, _("Estratto della liquidazione n. %(number)s") % {"number": settlement.pk}
    )
    canvas.setFont("Helvetica", 10)
    who = merchant.name
    if merchant.legal_name and merchant.legal_name != merchant.name:
        who = f"{merchant.legal_name} ({merchant.name})"
    lines = [
        who,
        f"{merchant.street}, {merchant.postal_code} {merchant.town}",
        _("Partita IVA %(vat)s · IBAN %(iban)s")
        % {"vat": merchant.vat_number, "iban": merchant.iban},
        _("Liquidazione del %(date)s") % {"date": _when(settlement.created_at)},
    ]
    if period:
        lines.append(
            _("Utilizzi dal %(first)s al %(last)s")
            % {
                "first": formats.date_format(period[0], "SHORT_DATE_FORMAT"),
                "last": formats.date_format(period[1], "SHORT_DATE_FORMAT"),
            }
        )
    y = top - 8 * mm
    for text in lines:
        canvas.drawString(MARGIN, y, text[:110])
        y -= 5 * mm
    canvas.drawRightString(AMOUNT_RIGHT, top, _("Pagina %(page)s") % {"page": page})
    y -= 3 * mm
    canvas.setFont("Helvetica-Bold", 10)
    for x, title in zip(COLUMNS, (_("Data"), _("Scontrino"), _("Buono")), strict=True):
        canvas.drawString(x, y, title)
    canvas.drawRightString(AMOUNT_RIGHT, y, _("Importo"))
    canvas.line(MARGIN, y - 2 * mm, AMOUNT_RIGHT, y - 2 * mm)
    canvas.setFont("Helvetica", 10)
    return y - ROW_HEIGHT - 1 * mm


def settlement_statement_pdf(settlement: Settlement, *, language: str = "it") -> bytes:
    """Return the statement of a settlement: every redemption it pays, and the total."""
    redemptions = (
        settlement.redemptions.select_related("voucher")
        .only("pk", "created_at", "amount", "voucher__code")
        .order_by("created_at", "pk")
    )
    period = settlement_periods([settlement]).get(settlement.pk)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"BuonoComune - liquidazione {settlement.pk}")
    with translation.override(language):
        page = 1
        y = _statement_header(canvas, settlement, period, page)
        for redemption in redemptions.iterator(chunk_size=2000):
            if y < MARGIN + 20 * mm:
                canvas.showPage()
                page += 1
                y = _statement_header(canvas, settlement, period, page)
            canvas.drawString(COLUMNS[0], y, _when(redemption.created_at))
            canvas.drawString(COLUMNS[1], y, redemption.receipt_number)
            canvas.drawString(COLUMNS[2], y, redemption.voucher.code_hint)
            canvas.drawRightString(AMOUNT_RIGHT, y, format_euro(redemption.amount))
            y -= ROW_HEIGHT
        canvas.line(MARGIN, y + ROW_HEIGHT - 2 * mm, AMOUNT_RIGHT, y + ROW_HEIGHT - 2 * mm)
        y -= 2 * mm
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(
            MARGIN,
            y,
            _("Totale: %(count)s utilizzi") % {"count": settlement.redemptions_count},
        )
        canvas.drawRightString(AMOUNT_RIGHT, y, format_euro(settlement.total))
        canvas.setFont("Helvetica", 9)
        canvas.drawString(
            MARGIN,
            y - 8 * mm,
            _("Nessuna commissione: il bonifico è la somma esatta degli utilizzi elencati."),
        )
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
