"""A call's archive put together: every section, the reports, the manifest."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO, cast
from zipfile import ZIP_DEFLATED, ZipFile

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab import rl_config

from core.sepa import payment_batch_xml
from merchants.models import Settlement
from merchants.statements import settlement_statement_pdf
from reports.archive.ledger import (
    claims_rows,
    expenses_rows,
    initiative_settlement_ids,
    ledger_rows,
    payment_batches,
    receipt_path,
    redemptions_rows,
    settlements_rows,
)
from reports.archive.records import (
    APPLICATIONS_HEADER,
    applications_rows,
    decisions_rows,
    initiative_json,
    members_rows,
    notifications_rows,
    ranking_rows,
    summary_rows,
    vouchers_rows,
)
from reports.archive.writer import (
    ARCHIVABLE_STATUSES,
    LETTERS_PER_PDF,
    MANIFEST_NAME,
    REPORT_NAMES,
    ROWS_PER_CHUNK,
    ArchiveError,
    ArchiveResult,
    ArchiveWriter,
    safe_name,
)
from reports.files import report_csv, report_pdf
from reports.rendicontazione import initiative_report
from reports.report import Dimension
from vouchers.models import ApplicationDocument, Expense, Initiative, Notification
from vouchers.outcome_letters import outcome_letters_pdf


def _reports(writer: ArchiveWriter, initiative: Initiative) -> None:
    """The call's reports (rendicontazione) by each dimension, as CSV and PDF."""
    # By funder is a funder's own report, across calls: not one of the call's.
    for dimension in [d for d in Dimension.values if d != Dimension.FUNDER]:
        report = initiative_report(initiative=initiative, dimension=dimension)
        name = f"rendicontazione/rendicontazione-per-{REPORT_NAMES[dimension]}"
        writer.write_bytes(f"{name}.csv", report_csv(report))
        writer.write_bytes(f"{name}.pdf", report_pdf(report))


def _write_sections(writer: ArchiveWriter, initiative: Initiative) -> None:
    writer.write_bytes("bando.json", initiative_json(initiative))
    writer.write_csv("riepilogo.csv", [_("voce"), _("valore")], summary_rows(initiative))
    writer.write_csv("domande.csv", APPLICATIONS_HEADER, applications_rows(initiative))
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
        members_rows(initiative),
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
        decisions_rows(initiative),
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
        ranking_rows(initiative),
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
        vouchers_rows(initiative),
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
        redemptions_rows(initiative),
    )
    settlement_ids = initiative_settlement_ids(initiative)
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
        settlements_rows(initiative, settlement_ids),
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
        claims_rows(initiative),
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
        expenses_rows(initiative),
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
        notifications_rows(initiative),
    )
    batches = payment_batches(initiative, settlement_ids)
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
        ledger_rows(initiative, settlement_ids, batches),
    )
    _reports(writer, initiative)
    for batch in batches:
        with writer.member(f"distinte/{safe_name(batch.message_id)}.xml") as member:
            payment_batch_xml(batch, cast(BinaryIO, member))  # it only writes to it
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
    # Every file copied below is stored (a required field, or empty ones left out): it has
    # a name.
    for document in initiative.documents.order_by("pk"):
        writer.copy_stored(
            f"documenti/{document.pk}-{safe_name(cast(str, document.file.name))}", document.file
        )
    for attachment in (
        ApplicationDocument.objects.filter(application__initiative=initiative)
        .exclude(file="")
        .select_related("application")
        .order_by("pk")
        .iterator(chunk_size=ROWS_PER_CHUNK)
    ):
        application = attachment.application
        writer.copy_stored(
            f"allegati/domande/{application.protocol_year}-{application.protocol_sequence:06d}/"
            f"{attachment.pk}-{safe_name(cast(str, attachment.file.name))}",
            attachment.file,
        )
    for expense in (
        Expense.objects.filter(claim__initiative=initiative)
        .exclude(receipt="")
        .order_by("pk")
        .iterator(chunk_size=ROWS_PER_CHUNK)
    ):
        writer.copy_stored(
            receipt_path(expense.claim_id, expense.pk, cast(str, expense.receipt.name)),
            expense.receipt,
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
    by: User | None = None,
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
        writer = ArchiveWriter(zip_file, now)
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
