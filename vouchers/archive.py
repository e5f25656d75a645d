"""The archive of a closed call: one ZIP with its data, its files and a SHA-256 manifest.

The ZIP holds the call's settings (``bando.json``), one CSV per kind of record
(``domande.csv``, ``buoni.csv``, ``contabilita.csv``…), the pain.001 files of the payment
batches that paid its shops or beneficiaries (``distinte/``), the settlement statements
(``liquidazioni/``), the outcome letters (``lettere/``), the reports (``rendicontazione/``), the
call's published documents (``documenti/``) and the files uploaded with its applications and
claims (``allegati/``): Italian names, the same whatever the language of the contents.
``INDICE.sha256`` lists every other file as ``sha256sum`` does (``sha256sum -c INDICE.sha256``
checks an unzipped copy); ``indice.json`` adds sizes, when the archive was made and by whom.

Everything is streamed: rows are read in chunks and written straight into the compressed
member, files are copied in blocks, so memory stays flat however large the call is. Entries
are written in a fixed order and rows by id, so two archives of the same call differ only in
``indice.json``'s time and author (and the date printed on regenerated letters).

The shop side of a call (redemptions, settlements, statements) lives in ``merchants``, which
builds on this app: its models are looked up through the app registry, as the reports do, and
the statement renderer is imported where it is used, so importing ``vouchers`` never imports
``merchants``. The reports come from ``vouchers.reports``, one CSV and one PDF per dimension.
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab import rl_config

from core.errors import DomainError
from core.models import Account, Journal, PaymentBatch, PaymentLine, Posting
from core.money import CENT, ZERO
from core.selectors import account_balance, money_sum
from core.sepa import payment_batch_xml
from vouchers.models import (
    Application,
    ApplicationDocument,
    Decision,
    Expense,
    HouseholdMember,
    Initiative,
    Notification,
    ReimbursementClaim,
    Voucher,
)
from vouchers.outcome_letters import outcome_letters_pdf

# A call is archived once nobody can apply any more.
ARCHIVABLE_STATUSES = (
    Initiative.Status.CLOSED,
    Initiative.Status.RANKED,
    Initiative.Status.ISSUED,
    Initiative.Status.ARCHIVED,
)
# Only the batches whose file went to the bank are part of the record.
SENT_BATCH_STATUSES = (PaymentBatch.Status.EXPORTED, PaymentBatch.Status.PAID)
ROWS_PER_CHUNK = 2000  # rows read per query and encoded per write
COPY_BLOCK = 1024 * 1024
LETTERS_PER_PDF = 500
MANIFEST_NAME = "INDICE.sha256"
# The reports' file names, by dimension.
REPORT_NAMES = {
    "call": "bando",
    "municipality": "comune",
    "shop": "negozio",
    "category": "categoria",
    "week": "settimana",
    "funder": "finanziatore",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(DomainError):
    messages = {
        "not_closed": gettext_lazy(
            "Si archivia solo un bando chiuso alle domande: «%(title)s» è «%(status)s»."
        ),
    }


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    path: str
    size: int
    sha256: str


@dataclass(slots=True)
class ArchiveResult:
    files: list[ArchivedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # stored files that could not be read


class _Member:
    """A ZIP member being written: counts and hashes what goes through."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        pass


class _ArchiveWriter:
    def __init__(self, zip_file: ZipFile, moment: datetime):
        self.zip_file = zip_file
        local = timezone.localtime(moment)
        # ZIP timestamps have two-second steps and no time zone: the local time, as unzip shows.
        self.date_time = (local.year, local.month, local.day, local.hour, local.minute, 0)
        self.result = ArchiveResult()

    @contextmanager
    def member(self, path: str) -> Iterator[_Member]:
        info = ZipInfo(path, date_time=self.date_time)
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self.zip_file.open(info, "w", force_zip64=True) as stream:
            member = _Member(stream)
            yield member
        self.result.files.append(ArchivedFile(path, member.size, member.digest.hexdigest()))

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.member(path) as member:
            member.write(data)

    def write_csv(self, path: str, header: list, rows: Iterable[Iterable]) -> None:
        with self.member(path) as member:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([str(title) for title in header])
            for count, row in enumerate(rows, start=1):
                writer.writerow([_cell(value) for value in row])
                if count % ROWS_PER_CHUNK == 0:
                    member.write(buffer.getvalue().encode())
                    buffer.seek(0)
                    buffer.truncate()
            member.write(buffer.getvalue().encode())

    def copy_stored(self, path: str, field_file) -> None:
        """Copy a stored upload into the archive; note it as missing if it cannot be read."""
        try:
            field_file.open("rb")
        except (OSError, ValueError):
            self.result.missing.append(path)
            return
        try:
            with self.member(path) as member:
                for block in iter(lambda: field_file.read(COPY_BLOCK), b""):
                    member.write(block)
        finally:
            field_file.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT):.2f}"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
    return str(value)


def _model(name: str):
    return apps.get_model("merchants", name)


def _safe_name(name: str) -> str:
    """The file's own name, reduced to characters every unzip and sha256sum read alike."""
    base = name.rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", base).strip("._") or "file"


def _protocol(year, sequence) -> str:
    return f"{year}/{sequence:06d}"


def _chunked(queryset) -> Iterator:
    return queryset.iterator(chunk_size=ROWS_PER_CHUNK)


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices}


# --- The sections ----------------------------------------------------------------------------


def _call_json(initiative: Initiative) -> bytes:
    settings_ = {}
    for model_field in Initiative._meta.concrete_fields:
        value = getattr(initiative, model_field.attname)
        settings_[model_field.attname] = value
    data = {
        "initiative": settings_,
        "status_label": initiative.get_status_display(),
        "fund": {"id": initiative.fund_id, "name": initiative.fund.name},
        "municipalities": [
            {"id": m.pk, "name": m.name, "istat_code": m.istat_code}
            for m in initiative.municipalities.order_by("pk")
        ],
        "allowed_categories": [
            {"slug": c.slug, "name": c.name} for c in initiative.allowed_categories.order_by("pk")
        ],
        "documents": [
            {"id": d.pk, "title": d.title, "uploaded_at": d.uploaded_at}
            for d in initiative.documents.order_by("pk")
        ],
        "outcome_templates": [
            {"outcome": t.outcome, "subject": t.subject, "body": t.body}
            for t in initiative.outcome_templates.order_by("outcome")
        ],
        "retain_until": initiative.retain_until,
        "amendments": [
            {
                "rule": a.field,
                "old_value": a.old_value,
                "new_value": a.new_value,
                "reason": a.reason,
                "amended_by": a.amended_by.get_username() if a.amended_by else "",
                "amended_at": a.amended_at,
            }
            for a in initiative.amendments.select_related("amended_by").order_by("amended_at", "pk")
        ],
    }
    return json.dumps(
        data, cls=DjangoJSONEncoder, sort_keys=True, indent=2, ensure_ascii=False
    ).encode()


def _summary_rows(initiative: Initiative) -> Iterator[tuple]:
    """The call's figures: counts and totals, the same before and after anonymisation."""
    applications = Application.objects.filter(initiative=initiative)
    for status, label in Application.Status.choices:
        count = applications.filter(status=status).count()
        yield _("Domande: %(status)s") % {"status": label}, count
    for outcome, label in Application.Outcome.choices:
        # Only an admitted application has a ranking's outcome (``Application.outcome_for``).
        count = applications.filter(status=Application.Status.APPROVED, outcome=outcome).count()
        yield _("Esito: %(outcome)s") % {"outcome": label}, count
    yield (
        _("Importo riconosciuto alle domande finanziate"),
        money_sum(
            applications.filter(
                outcome__in=[Application.Outcome.FUNDED, Application.Outcome.ISSUED]
            ),
            "amount",
        ),
    )
    vouchers = Voucher.objects.filter(initiative=initiative)
    yield _("Buoni emessi"), vouchers.count()
    yield _("Valore dei buoni emessi"), money_sum(vouchers, "face_value")
    yield _("Saldo residuo dei buoni"), money_sum(vouchers, "balance")
    for status, label in Voucher.Status.choices:
        yield _("Buoni: %(status)s") % {"status": label}, vouchers.filter(status=status).count()
    claims = ReimbursementClaim.objects.filter(initiative=initiative)
    yield _("Richieste di rimborso"), claims.count()
    expenses = Expense.objects.filter(claim__initiative=initiative)
    yield _("Spese presentate"), money_sum(expenses, "amount")
    yield _("Spese ammesse"), money_sum(expenses, "approved_amount")
    yield _("Budget disponibile del bando"), account_balance(key=initiative.budget_account_key)
    yield (
        _("Buoni in circolazione (contabilità)"),
        account_balance(key=initiative.outstanding_account_key),
    )
    yield from _redemption_summary_rows(initiative)


def _redemption_summary_rows(initiative: Initiative) -> Iterator[tuple]:
    Redemption = _model("Redemption")
    confirmed = Redemption.objects.filter(
        voucher__initiative=initiative, status=Redemption.Status.CONFIRMED
    )
    yield _("Utilizzi confermati"), confirmed.count()
    yield _("Importo degli utilizzi confermati"), money_sum(confirmed)
    yield (
        _("Importo liquidato agli esercenti"),
        money_sum(confirmed.filter(settlement__isnull=False)),
    )


def _applications_rows(initiative: Initiative) -> Iterator[tuple]:
    members = (
        HouseholdMember.objects.filter(application=OuterRef("pk"))
        .order_by()
        .values("application")
        .annotate(count=Count("pk"))
        .values("count")[:1]
    )
    status, channel = (
        _labels(Application.Status.choices),
        _labels(Application.Channel.choices),
    )
    rows = (
        Application.objects.filter(initiative=initiative)
        .annotate(members_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0)))
        .order_by("pk")
        .values_list(
            "pk",
            "protocol_year",
            "protocol_sequence",
            "municipality__istat_code",
            "municipality__name",
            "applicant__fiscal_code",
            "applicant__last_name",
            "applicant__first_name",
            "applicant__email",
            "applicant__phone",
            "channel",
            "status",
            "outcome",
            "submitted_at",
            "street",
            "postal_code",
            "isee",
            "dsu_protocol",
            "iban",
            "members_count",
            "household_flag",
            "rank",
            "amount",
            "entered_by__username",
            "tutor__username",
        )
    )
    for row in _chunked(rows):
        (pk, year, sequence, istat, town, fiscal_code, last, first, email, phone) = row[:10]
        (channel_, status_, outcome_, submitted, street, postal_code) = row[10:16]
        (isee, dsu, iban, members_count, flag, rank, amount, entered_by, tutor) = row[16:]
        yield (
            pk,
            _protocol(year, sequence),
            istat,
            town,
            fiscal_code,
            last,
            first,
            email,
            phone,
            channel.get(channel_, channel_),
            status.get(status_, status_),
            str(Application.outcome_for(status=status_, outcome=outcome_)[1]),
            submitted,
            street,
            postal_code,
            isee,
            dsu,
            iban,
            1 + members_count,
            flag,
            rank,
            amount,
            entered_by,
            tutor,
        )


APPLICATIONS_HEADER = [
    gettext_lazy("id"),
    gettext_lazy("protocollo"),
    gettext_lazy("codice ISTAT"),
    gettext_lazy("comune"),
    gettext_lazy("codice fiscale"),
    gettext_lazy("cognome"),
    gettext_lazy("nome"),
    gettext_lazy("e-mail"),
    gettext_lazy("telefono"),
    gettext_lazy("canale"),
    gettext_lazy("stato"),
    gettext_lazy("esito"),
    gettext_lazy("presentata il"),
    gettext_lazy("indirizzo"),
    gettext_lazy("CAP"),
    gettext_lazy("ISEE"),
    gettext_lazy("protocollo DSU"),
    gettext_lazy("IBAN"),
    gettext_lazy("componenti del nucleo"),
    gettext_lazy("nucleo già presente"),
    gettext_lazy("posizione"),
    gettext_lazy("importo riconosciuto"),
    gettext_lazy("inserita da"),
    gettext_lazy("tutor"),
]


def _members_rows(initiative: Initiative) -> Iterator[tuple]:
    rows = (
        HouseholdMember.objects.filter(application__initiative=initiative)
        .order_by("application_id", "pk")
        .values_list(
            "application__protocol_year",
            "application__protocol_sequence",
            "fiscal_code",
            "last_name",
            "first_name",
            "birth_date",
            "is_child",
        )
    )
    for year, sequence, *rest in _chunked(rows):
        yield (_protocol(year, sequence), *rest)


def _decisions_rows(initiative: Initiative) -> Iterator[tuple]:
    actions = _labels(Decision.Action.choices)
    statuses = _labels(Application.Status.choices)
    rows = (
        Decision.objects.filter(application__initiative=initiative)
        .order_by("application_id", "decided_at", "pk")
        .values_list(
            "pk",
            "application__protocol_year",
            "application__protocol_sequence",
            "action",
            "from_status",
            "to_status",
            "reason",
            "decided_by__username",
            "decided_at",
        )
    )
    for pk, year, sequence, action, before, after, *rest in _chunked(rows):
        yield (
            pk,
            _protocol(year, sequence),
            actions.get(action, action),
            statuses.get(before, before),
            statuses.get(after, after),
            *rest,
        )


def _ranking_rows(initiative: Initiative) -> Iterator[tuple]:
    """The ranking as published: protocol numbers, positions and outcomes, no names."""
    rows = (
        Application.objects.filter(initiative=initiative, rank__isnull=False)
        .order_by("rank", "pk")
        .values_list(
            "rank",
            "protocol_year",
            "protocol_sequence",
            "municipality__name",
            "status",
            "outcome",
            "amount",
            "score_key",
        )
    )
    for rank, year, sequence, town, status, outcome, amount, score_key in _chunked(rows):
        yield (
            rank,
            _protocol(year, sequence),
            town,
            str(Application.outcome_for(status=status, outcome=outcome)[1]),
            amount,
            score_key,
        )


def _vouchers_rows(initiative: Initiative) -> Iterator[tuple]:
    statuses, media = _labels(Voucher.Status.choices), _labels(Voucher.Medium.choices)
    rows = (
        Voucher.objects.filter(initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "code",
            "application__protocol_year",
            "application__protocol_sequence",
            "beneficiary__fiscal_code",
            "face_value",
            "balance",
            "status",
            "medium",
            "issued_at",
            "valid_from",
            "valid_until",
            "closed_at",
            "closed_reason",
        )
    )
    for pk, code, year, sequence, holder, face, balance, status, medium, *rest in _chunked(rows):
        # Never the whole code: it is a bearer secret while the voucher can be spent.
        yield (
            pk,
            f"…{code[-4:]}",
            _protocol(year, sequence) if year else "",
            holder,
            face,
            balance,
            statuses.get(status, status),
            media.get(medium, medium),
            *rest,
        )


def _redemptions_rows(initiative: Initiative) -> Iterator[tuple]:
    Redemption = _model("Redemption")
    statuses = _labels(Redemption.Status.choices)
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
    for pk, created_at, voucher_id, code, *shop, amount, after, status, voided, settled in _chunked(
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


def _settlement_ids(initiative: Initiative) -> list[int]:
    Redemption = _model("Redemption")
    return list(
        Redemption.objects.filter(voucher__initiative=initiative, settlement__isnull=False)
        .order_by("settlement_id")
        .values_list("settlement_id", flat=True)
        .distinct()
    )


def _settlements_rows(initiative: Initiative, settlement_ids: list[int]) -> Iterator[tuple]:
    """Each settlement that paid redemptions of the call, and how much of it is the call's."""
    Redemption, Settlement = _model("Redemption"), _model("Settlement")
    shares = {
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
    for pk, *head, count, total, batch, end_to_end, paid_at in _chunked(rows):
        share = shares.get(pk, {})
        # SQLite adds decimals as floats: back to cents, as money_sum does.
        call_total = Decimal(share.get("total") or ZERO).quantize(CENT)
        yield (
            pk,
            *head,
            count,
            total,
            share.get("count", 0),
            call_total,
            batch,
            end_to_end,
            paid_at,
        )


def _claims(initiative: Initiative):
    return ReimbursementClaim.objects.filter(initiative=initiative)


def _claims_rows(initiative: Initiative) -> Iterator[tuple]:
    statuses = _labels(ReimbursementClaim.Status.choices)
    rows = (
        _claims(initiative)
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
    for pk, year, sequence, holder, status, *rest in _chunked(rows):
        yield (pk, _protocol(year, sequence), holder, statuses.get(status, status), *rest)


def _expenses_rows(initiative: Initiative) -> Iterator[tuple]:
    statuses = _labels(Expense.Status.choices)
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
    ) in _chunked(rows):
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
            _receipt_path(claim_id, pk, receipt) if receipt else "",
        )


def _notifications_rows(initiative: Initiative) -> Iterator[tuple]:
    channels, statuses = _labels(Notification.Channel.choices), _labels(Notification.Status.choices)
    outcomes = _labels(Notification._meta.get_field("outcome").choices)
    rows = (
        Notification.objects.filter(application__initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "application__protocol_year",
            "application__protocol_sequence",
            "outcome",
            "channel",
            "recipient",
            "status",
            "created_at",
            "sent_at",
            "subject",
            "body",
        )
    )
    for pk, year, sequence, outcome, channel, recipient, status, *rest in _chunked(rows):
        yield (
            pk,
            _protocol(year, sequence),
            outcomes.get(outcome, outcome),
            channels.get(channel, channel),
            recipient,
            statuses.get(status, status),
            *rest,
        )


def _payment_batches(initiative: Initiative, settlement_ids: list[int]) -> list[PaymentBatch]:
    """The batches sent to the bank that paid the call's settlements or reimbursements."""
    claim_ids = _claims(initiative).values("pk")
    paying = PaymentLine.objects.filter(
        Q(settlement__in=settlement_ids) | Q(claim_ref__in=claim_ids)
    ).values("batch_id")
    return list(
        PaymentBatch.objects.filter(pk__in=paying, status__in=SENT_BATCH_STATUSES).order_by("pk")
    )


def _ledger_rows(
    initiative: Initiative, settlement_ids: list[int], batches: list[PaymentBatch]
) -> Iterator[tuple]:
    """Every journal that touched the call's accounts, settled or paid its money, line by line."""
    Settlement = _model("Settlement")
    accounts = Account.objects.filter(
        key__in=[initiative.budget_account_key, initiative.outstanding_account_key]
    ).values("pk")
    on_call_accounts = Posting.objects.filter(account__in=accounts).values("journal_id")
    settlement_journals = Settlement.objects.filter(pk__in=settlement_ids).values("journal_id")
    payment_journals = PaymentLine.objects.filter(
        batch__in=[b.pk for b in batches], journal__isnull=False
    ).values("journal_id")
    kinds = _labels(Journal.Kind.choices)
    rows = (
        Posting.objects.filter(
            Q(journal_id__in=on_call_accounts)
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
    for journal_id, kind, *rest in _chunked(rows):
        yield (journal_id, kinds.get(kind, kind), *rest)


def _receipt_path(claim_id: int, expense_id: int, name: str) -> str:
    return f"allegati/scontrini/{claim_id}/{expense_id}-{_safe_name(name)}"


# --- The archive -----------------------------------------------------------------------------


def _reports(writer: _ArchiveWriter, initiative: Initiative) -> None:
    """The call's reports (rendicontazione) by each dimension, as CSV and PDF."""
    from vouchers.admin.reports import report_csv, report_pdf
    from vouchers.reports import Dimension, call_report

    # By funder is a funder's own report, across calls: not one of the call's.
    for dimension in [d for d in Dimension.values if d != Dimension.FUNDER]:
        report = call_report(initiative=initiative, dimension=dimension)
        name = f"rendicontazione/rendicontazione-per-{REPORT_NAMES[dimension]}"
        writer.write_bytes(f"{name}.csv", report_csv(report))
        writer.write_bytes(f"{name}.pdf", report_pdf(report))


def _write_sections(writer: _ArchiveWriter, initiative: Initiative) -> None:
    from merchants.statements import settlement_statement_pdf

    Settlement = _model("Settlement")

    writer.write_bytes("bando.json", _call_json(initiative))
    writer.write_csv("riepilogo.csv", [_("voce"), _("valore")], _summary_rows(initiative))
    writer.write_csv("domande.csv", APPLICATIONS_HEADER, _applications_rows(initiative))
    writer.write_csv(
        "componenti_dei_nuclei.csv",
        [
            _("protocollo"),
            _("codice fiscale"),
            _("cognome"),
            _("nome"),
            _("data di nascita"),
            _("figlio"),
        ],
        _members_rows(initiative),
    )
    writer.write_csv(
        "decisioni.csv",
        [
            _("id"),
            _("protocollo"),
            _("azione"),
            _("stato precedente"),
            _("nuovo stato"),
            _("motivazione"),
            _("da"),
            _("il"),
        ],
        _decisions_rows(initiative),
    )
    writer.write_csv(
        "graduatoria.csv",
        [
            _("posizione"),
            _("protocollo"),
            _("comune"),
            _("esito"),
            _("importo"),
            _("chiave di graduatoria"),
        ],
        _ranking_rows(initiative),
    )
    writer.write_csv(
        "buoni.csv",
        [
            _("id"),
            _("codice (ultime cifre)"),
            _("domanda"),
            _("codice fiscale dell'intestatario"),
            _("valore nominale"),
            _("saldo"),
            _("stato"),
            _("supporto"),
            _("emesso il"),
            _("valido dal"),
            _("valido fino al"),
            _("chiuso il"),
            _("motivo"),
        ],
        _vouchers_rows(initiative),
    )
    writer.write_csv(
        "utilizzi.csv",
        [
            _("id"),
            _("scontrino"),
            _("eseguito il"),
            _("buono"),
            _("codice (ultime cifre)"),
            _("esercente"),
            _("insegna"),
            _("partita IVA"),
            _("importo"),
            _("saldo dopo"),
            _("stato"),
            _("annullato il"),
            _("liquidazione"),
        ],
        _redemptions_rows(initiative),
    )
    settlement_ids = _settlement_ids(initiative)
    writer.write_csv(
        "liquidazioni.csv",
        [
            _("id"),
            _("esercente"),
            _("insegna"),
            _("partita IVA"),
            _("creata il"),
            _("numero di utilizzi"),
            _("totale"),
            _("utilizzi di questo bando"),
            _("importo di questo bando"),
            _("distinta"),
            _("identificativo end-to-end"),
            _("pagato il"),
        ],
        _settlements_rows(initiative, settlement_ids),
    )
    writer.write_csv(
        "richieste_di_rimborso.csv",
        [
            _("id"),
            _("protocollo"),
            _("codice fiscale"),
            _("stato"),
            _("presentata il"),
            _("presentata da"),
        ],
        _claims_rows(initiative),
    )
    writer.write_csv(
        "spese.csv",
        [
            _("id"),
            _("richiesta"),
            _("data della spesa"),
            _("categoria"),
            _("descrizione"),
            _("importo"),
            _("esito"),
            _("importo ammesso"),
            _("motivo"),
            _("scontrino o fattura"),
        ],
        _expenses_rows(initiative),
    )
    writer.write_csv(
        "comunicazioni.csv",
        [
            _("id"),
            _("protocollo"),
            _("esito"),
            _("canale"),
            _("destinatario"),
            _("stato"),
            _("creata il"),
            _("inviata il"),
            _("oggetto"),
            _("testo"),
        ],
        _notifications_rows(initiative),
    )
    batches = _payment_batches(initiative, settlement_ids)
    writer.write_csv(
        "contabilita.csv",
        [
            _("registrazione"),
            _("tipo"),
            _("descrizione"),
            _("registrato il"),
            _("registrato da"),
            _("movimento"),
            _("conto"),
            _("nome del conto"),
            _("importo"),
            _("buono"),
            _("esercente"),
        ],
        _ledger_rows(initiative, settlement_ids, batches),
    )
    _reports(writer, initiative)
    for batch in batches:
        with writer.member(f"distinte/{_safe_name(batch.message_id)}.xml") as member:
            payment_batch_xml(batch, member)
    for settlement in (
        Settlement.objects.filter(pk__in=settlement_ids).select_related("merchant").order_by("pk")
    ):
        writer.write_bytes(
            f"liquidazioni/estratto-conto-{settlement.pk:08d}.pdf",
            settlement_statement_pdf(settlement, language=translation.get_language()),
        )
    letters = (
        Notification.objects.filter(
            application__initiative=initiative, channel=Notification.Channel.LETTER
        )
        .select_related("application__applicant", "application__municipality")
        .order_by("pk")
    )
    letter_ids = list(letters.values_list("pk", flat=True))
    for part, start in enumerate(range(0, len(letter_ids), LETTERS_PER_PDF), start=1):
        chunk = list(letters.filter(pk__in=letter_ids[start : start + LETTERS_PER_PDF]))
        writer.write_bytes(f"lettere/lettere-di-esito-{part:04d}.pdf", outcome_letters_pdf(chunk))
    for document in initiative.documents.order_by("pk"):
        writer.copy_stored(
            f"documenti/{document.pk}-{_safe_name(document.file.name)}", document.file
        )
    for document in (
        ApplicationDocument.objects.filter(application__initiative=initiative)
        .exclude(file="")
        .select_related("application")
        .order_by("pk")
        .iterator(chunk_size=ROWS_PER_CHUNK)
    ):
        application = document.application
        writer.copy_stored(
            f"allegati/domande/{application.protocol_year}-"
            f"{application.protocol_sequence:06d}/{document.pk}-{_safe_name(document.file.name)}",
            document.file,
        )
    for expense in (
        Expense.objects.filter(claim__initiative=initiative)
        .exclude(receipt="")
        .order_by("pk")
        .iterator(chunk_size=ROWS_PER_CHUNK)
    ):
        writer.copy_stored(
            _receipt_path(expense.claim_id, expense.pk, expense.receipt.name), expense.receipt
        )


@contextmanager
def _invariant_pdfs() -> Iterator[None]:
    """PDFs without a creation time or random id, so a regenerated statement is identical."""
    previous = rl_config.invariant
    rl_config.invariant = 1
    try:
        yield
    finally:
        rl_config.invariant = previous


def initiative_archive_zip(
    *,
    initiative: Initiative,
    out: BinaryIO,
    by=None,
    now: datetime | None = None,
    language: str | None = None,
) -> ArchiveResult:
    """Write the whole record of a closed call to ``out`` as one ZIP with its manifest."""
    initiative = Initiative.objects.select_related("fund").get(pk=initiative.pk)
    if initiative.status not in ARCHIVABLE_STATUSES:
        raise ArchiveError(
            "not_closed", title=initiative.title, status=initiative.get_status_display()
        )
    now = now or timezone.now()
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        _invariant_pdfs(),
        ZipFile(out, "w", compression=ZIP_DEFLATED) as zip_file,
    ):
        writer = _ArchiveWriter(zip_file, now)
        _write_sections(writer, initiative)
        manifest = {
            "format": 1,
            "initiative": {"id": initiative.pk, "title": initiative.title},
            "status": initiative.status,
            "generated_at": now.isoformat(timespec="seconds"),
            "generated_by": by.get_username() if by is not None else "",
            "files": [
                {"path": f.path, "size": f.size, "sha256": f.sha256} for f in writer.result.files
            ],
            "missing_files": writer.result.missing,
        }
        writer.write_bytes(
            "indice.json",
            json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
        )
        lines = "".join(f"{f.sha256}  {f.path}\n" for f in writer.result.files)
        writer.write_bytes(MANIFEST_NAME, lines.encode())
    return writer.result
