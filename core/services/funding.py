"""Contributions of every kind: donations with their receipts, loyalty points in euro.

``contribution_register`` records any contribution with the details its kind needs (a
citizen's donation names the donor and gets a receipt number, progressive per year);
``loyalty_points_import`` turns a retailer's points file into one contribution.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum.it import codicefiscale, iva

from core.errors import DomainError
from core.models import (
    Account,
    Contribution,
    Fund,
    Journal,
    LoyaltyPointsLine,
    Organization,
    ReceiptCounter,
)
from core.money import CENT, ZERO, InvalidAmount, positive_euro
from core.services.ledger import Line, fund_account_line, journal_post


class FundError(DomainError):
    messages = {
        "not_a_funder": gettext_lazy("Solo un finanziatore o un comune può versare un contributo."),
        "insufficient_fund": gettext_lazy("Il fondo non ha abbastanza disponibilità."),
    }


def _contribution_record(
    *,
    fund: Fund,
    funder: Organization,
    amount: Decimal | str,
    received_on: date,
    document_reference: str = "",
    recorded_by: User | None = None,
) -> Contribution:
    """Record money a funder put into a fund, with its ledger entry: the lenient path.

    It checks only the funder's kind: no donor, no receipt, no date in the future. The
    service is ``contribution_register``, which calls it; outside this module only the demo
    data builder (``reports.demo``), the test factories and the benchmarks may call it, to
    fill a database quickly.
    """
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


class ContributionError(DomainError):
    messages = {
        "invalid_amount": gettext_lazy(
            "Importo non valido: scrivi un importo in euro maggiore di zero."
        ),
        "donor_required": gettext_lazy("Per una donazione indica il nome del donatore."),
        "invalid_donor_code": gettext_lazy(
            "Codice fiscale del donatore non valido: 16 caratteri per una persona, "
            "11 cifre per un'impresa o un ente."
        ),
        "donor_only_for_donations": gettext_lazy(
            "Il donatore si indica solo per le donazioni dei cittadini."
        ),
        "not_a_donation": gettext_lazy("La ricevuta si emette solo per le donazioni."),
        "future_date": gettext_lazy("La data del contributo non può essere nel futuro."),
        "not_a_retailer": gettext_lazy(
            "I punti fedeltà si importano solo per un programma fedeltà di un esercente."
        ),
        "invalid_rate": gettext_lazy(
            "Valore del punto non valido: scrivi un importo in euro maggiore di zero, con al "
            "massimo sei decimali (per esempio 0,01)."
        ),
        "empty_file": gettext_lazy("Il file non ha righe da importare."),
        "missing_columns": gettext_lazy("Mancano le colonne: %(columns)s."),
        "too_small": gettext_lazy(
            "I punti valgono meno di un centesimo: non c'è nulla da registrare."
        ),
        "already_imported": gettext_lazy("Questo file è già stato importato."),
    }


def is_donation(funder: Organization) -> bool:
    return funder.funder_kind == Organization.FunderKind.DONATIONS


def _donor_code(value: str) -> str:
    code = (value or "").strip().upper().replace(" ", "")
    if not code:
        return ""
    valid = codicefiscale.is_valid(code) if len(code) == 16 else iva.is_valid(code)
    if not valid:
        raise ContributionError("invalid_donor_code")
    return code


def _next_receipt_number(year: int) -> int:
    ReceiptCounter.objects.get_or_create(year=year)
    counter = ReceiptCounter.objects.select_for_update().get(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def contribution_register(
    *,
    fund: Fund,
    funder: Organization,
    amount: Decimal | str,
    received_on: date,
    document_reference: str = "",
    purpose: str = "",
    donor_name: str = "",
    donor_fiscal_code: str = "",
    donor_address: str = "",
    recorded_by: User | None = None,
) -> Contribution:
    """Record a contribution of any kind; a donation names its donor and gets a receipt."""
    try:
        amount = positive_euro(amount)
    except (InvalidAmount, TypeError) as exc:
        raise ContributionError("invalid_amount") from exc
    if received_on > timezone.localdate():
        raise ContributionError("future_date")
    donor_name = (donor_name or "").strip()
    donor_address = (donor_address or "").strip()
    if is_donation(funder):
        if not donor_name:
            raise ContributionError("donor_required")
        donor_fiscal_code = _donor_code(donor_fiscal_code)
    elif donor_name or (donor_fiscal_code or "").strip() or donor_address:
        raise ContributionError("donor_only_for_donations")
    with transaction.atomic():
        contribution = _contribution_record(
            fund=fund,
            funder=funder,
            amount=amount,
            received_on=received_on,
            document_reference=(document_reference or "").strip()[:200],
            recorded_by=recorded_by,
        )
        contribution.purpose = (purpose or "").strip()[:200]
        fields = ["purpose"]
        if is_donation(funder):
            contribution.donor_name = donor_name[:200]
            contribution.donor_fiscal_code = donor_fiscal_code
            contribution.donor_address = donor_address[:200]
            contribution.receipt_year = received_on.year
            contribution.receipt_number = _next_receipt_number(received_on.year)
            fields += [
                "donor_name",
                "donor_fiscal_code",
                "donor_address",
                "receipt_year",
                "receipt_number",
            ]
        contribution.save(update_fields=fields)
    return contribution


# --- loyalty points ------------------------------------------------------------------------

LOYALTY_COLUMNS = ["data", "punto_vendita", "punti"]
_COLUMN_ALIASES = {
    "date": "data",
    "negozio": "punto_vendita",
    "riferimento": "punto_vendita",
    "store": "punto_vendita",
    "reference": "punto_vendita",
    "points": "punti",
}
RATE_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class LoyaltyRowError:
    row: int  # as the operator sees it in the spreadsheet: the header is row 1
    message: str


@dataclass(frozen=True, slots=True)
class LoyaltyImportResult:
    contribution: Contribution | None
    errors: list[LoyaltyRowError]
    total_points: int
    amount: Decimal


def loyalty_rate(value: Decimal | str) -> Decimal:
    """Return the euro value of one point: positive, at most six decimals."""
    try:
        rate = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise ContributionError("invalid_rate") from exc
    if not rate.is_finite() or rate <= 0 or rate != rate.quantize(RATE_PLACES):
        raise ContributionError("invalid_rate")
    return rate


def loyalty_amount(*, points: int, rate: Decimal) -> Decimal:
    """Points × rate, rounded once on the total to the cent, half up."""
    return (Decimal(points) * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _row_date(text: str) -> date:
    text = text.strip()[:10]
    if "/" in text:
        day, month, year = text.split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def _normalised(row: dict[str, str]) -> dict[str, str]:
    return {_COLUMN_ALIASES.get(key, key): value for key, value in row.items()}


def loyalty_points_import(
    *,
    fund: Fund,
    funder: Organization,
    rows: list[dict[str, str]],
    rate: Decimal | str,
    received_on: date,
    document_reference: str = "",
    content: bytes = b"",
    recorded_by: User | None = None,
) -> LoyaltyImportResult:
    """Turn a retailer's points file into one contribution; any bad row keeps nothing.

    One contribution per file, not per row: the retailer transfers the money for the
    file's total, and rounding once on the total (half up, to the cent) keeps the
    contribution equal to points × rate, where rounding each row would not.
    """
    if funder.funder_kind != Organization.FunderKind.RETAILER:
        raise ContributionError("not_a_retailer")
    rate = loyalty_rate(rate)
    if not rows:
        raise ContributionError("empty_file")
    rows = [_normalised(row) for row in rows]
    missing = [column for column in LOYALTY_COLUMNS if column not in rows[0]]
    if missing:
        raise ContributionError("missing_columns", columns=", ".join(missing))
    fingerprint = hashlib.sha256(content).hexdigest() if content else ""
    if fingerprint and Contribution.objects.filter(import_fingerprint=fingerprint).exists():
        raise ContributionError("already_imported")
    today = timezone.localdate()
    errors: list[LoyaltyRowError] = []
    lines: list[LoyaltyPointsLine] = []
    for index, row in enumerate(rows, start=2):
        problems = []
        try:
            earned_on = _row_date(row.get("data", ""))
        except ValueError:
            earned_on = None
            problems.append(_("data non valida: usa AAAA-MM-GG o GG/MM/AAAA"))
        if earned_on is not None and earned_on > today:
            problems.append(_("la data è nel futuro"))
        store = row.get("punto_vendita", "").strip()
        if not store:
            problems.append(_("manca il punto vendita"))
        elif len(store) > 100:
            problems.append(_("punto vendita troppo lungo (al massimo 100 caratteri)"))
        text = row.get("punti", "").strip().replace(".", "").replace(" ", "")
        points = int(text) if text.isdigit() else None
        if not points:
            problems.append(_("punti non validi: scrivi un numero intero maggiore di zero"))
        if problems or earned_on is None or points is None:  # no date or points: a problem
            errors.append(LoyaltyRowError(index, "; ".join(problems)))
            continue
        lines.append(
            LoyaltyPointsLine(
                row_number=index, earned_on=earned_on, store_reference=store, points=points
            )
        )
    total_points = sum(line.points for line in lines)
    if errors:
        return LoyaltyImportResult(None, errors, total_points, ZERO)
    amount = loyalty_amount(points=total_points, rate=rate)
    if amount <= ZERO:
        raise ContributionError("too_small")
    try:
        with transaction.atomic():
            contribution = contribution_register(
                fund=fund,
                funder=funder,
                amount=amount,
                received_on=received_on,
                document_reference=document_reference,
                purpose=_("Punti fedeltà: %(points)s punti a %(rate)s euro l'uno")
                % {"points": total_points, "rate": formats.number_format(rate.normalize())},
                recorded_by=recorded_by,
            )
            contribution.loyalty_points = total_points
            contribution.loyalty_rate = rate
            contribution.import_fingerprint = fingerprint
            contribution.save(
                update_fields=["loyalty_points", "loyalty_rate", "import_fingerprint"]
            )
            for line in lines:
                line.contribution = contribution
            LoyaltyPointsLine.objects.bulk_create(lines)
    except IntegrityError as exc:  # the same file imported at the same moment elsewhere
        raise ContributionError("already_imported") from exc
    return LoyaltyImportResult(contribution, [], total_points, amount)
