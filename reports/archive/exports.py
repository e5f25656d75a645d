"""A call's archive prepared in the background, kept a few days, downloaded by staff.

A large call's archive takes minutes to write: longer than a web request may last. Staff ask
for it (``archive_export_request``), a worker writes it into the storage
(``archive_export_build``), staff download it from the admin (``archive_export_download``,
which counts who did and when), and the file is deleted when its days are over
(``archive_exports_purge``) or when staff no longer need it (``archive_export_discard``):
it holds every applicant's personal data.
"""

import hashlib
import logging
import secrets
import tempfile
from datetime import datetime, timedelta
from typing import IO, Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from reports.archive.build import initiative_archive_zip
from reports.archive.writer import ARCHIVABLE_STATUSES, COPY_BLOCK, ArchiveError
from vouchers.models import ArchiveExport, Initiative, archive_export_path
from vouchers.services.archive_exports import ACTIVE_STATUSES, archive_exports_expire

logger = logging.getLogger(__name__)


class ArchiveExportError(ArchiveError):
    messages = {
        **ArchiveError.messages,
        "not_ready": gettext_lazy("L'archivio non è ancora pronto: la pagina mostra quando lo è."),
        "expired": gettext_lazy(
            "L'archivio non è più disponibile: il file è stato eliminato. Preparane uno nuovo."
        ),
        "failed": gettext_lazy(
            "L'archivio non è stato preparato per un errore imprevisto. Riprova; se si "
            "ripete, avvisa l'assistenza."
        ),
    }


def _keep() -> timedelta:
    return timedelta(days=settings.ARCHIVE_EXPORT_KEEP_DAYS)


def _stale_before(now: datetime) -> datetime:
    """An export queued or running since before this is taken as lost (its worker died)."""
    return now - timedelta(minutes=settings.ARCHIVE_EXPORT_STALE_MINUTES)


def archive_export_request(*, initiative: Initiative, by: User | None) -> ArchiveExport:
    """Queue the preparation of a closed call's archive, or return the one already on its way."""
    now = timezone.now()
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        if initiative.status not in ARCHIVABLE_STATUSES:
            raise ArchiveExportError(
                "not_closed", title=initiative.title, status=initiative.get_status_display()
            )
        pending = (
            initiative.archive_exports.filter(
                status__in=ACTIVE_STATUSES, created_at__gte=_stale_before(now)
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if pending is not None:
            return pending
        export = ArchiveExport.objects.create(
            initiative=initiative, requested_by=by, created_at=now
        )
        transaction.on_commit(lambda: archive_export_build_task.delay(export.pk))
    return export


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(COPY_BLOCK):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _finish(export: ArchiveExport, **fields: Any) -> ArchiveExport:
    ArchiveExport.objects.filter(pk=export.pk).update(finished_at=timezone.now(), **fields)
    export.refresh_from_db()
    return export


def archive_export_build(*, export: ArchiveExport) -> ArchiveExport:
    """Write the archive of a queued export into the storage; run once, by one worker.

    A refusal (the call reopened meanwhile) or an unexpected error leaves the export
    ``failed`` with a sentence for staff and no file; running it again changes nothing.
    """
    claimed = ArchiveExport.objects.filter(pk=export.pk, status=ArchiveExport.Status.QUEUED).update(
        status=ArchiveExport.Status.RUNNING, started_at=timezone.now()
    )
    export = ArchiveExport.objects.select_related("initiative", "requested_by").get(pk=export.pk)
    if not claimed:
        return export
    stored = ""
    try:
        with tempfile.TemporaryFile() as archive:
            result = initiative_archive_zip(
                initiative=export.initiative, out=archive, by=export.requested_by
            )
            size = archive.tell()
            digest = _sha256(archive)
            name = archive_export_path(export, f"{secrets.token_hex(16)}.zip")
            stored = default_storage.save(name, File(archive, name=name))
    except ArchiveError as exc:
        return _finish(export, status=ArchiveExport.Status.FAILED, error=exc.detail)
    except Exception:
        logger.exception("archive export %s of call %s failed", export.pk, export.initiative_id)
        if stored:
            default_storage.delete(stored)
        return _finish(
            export,
            status=ArchiveExport.Status.FAILED,
            error=ArchiveExportError("failed").detail,
        )
    now = timezone.now()
    return _finish(
        export,
        status=ArchiveExport.Status.DONE,
        file=stored,
        size=size,
        sha256=digest,
        files_count=len(result.files),
        missing_count=len(result.missing),
        expires_at=now + _keep(),
        error="",
    )


def archive_export_download(*, export: ArchiveExport, by: User | None) -> ArchiveExport:
    """Count a download of a ready archive (who and when); refuse one not ready or gone."""
    now = timezone.now()
    with transaction.atomic():
        export = ArchiveExport.objects.select_for_update().get(pk=export.pk)
        if export.status in ACTIVE_STATUSES:
            raise ArchiveExportError("not_ready")
        if export.status == ArchiveExport.Status.FAILED:
            raise ArchiveExportError("failed")
        if export.status == ArchiveExport.Status.EXPIRED or not export.file:
            raise ArchiveExportError("expired")
        if export.expires_at is not None and export.expires_at <= now:
            raise ArchiveExportError("expired")
        ArchiveExport.objects.filter(pk=export.pk).update(
            downloads=F("downloads") + 1, last_downloaded_at=now, last_downloaded_by=by
        )
    export.refresh_from_db()
    return export


def archive_export_discard(*, export: ArchiveExport) -> ArchiveExport:
    """Delete a ready archive's file before its time (staff have what they needed)."""
    if not archive_exports_expire(exports=ArchiveExport.objects.filter(pk=export.pk)):
        export.refresh_from_db()
        if export.status in ACTIVE_STATUSES:
            raise ArchiveExportError("not_ready")
        raise ArchiveExportError("expired")
    export.refresh_from_db()
    return export


@shared_task(name="vouchers.tasks.archive_export_build", acks_late=True)  # type: ignore[untyped-decorator]  # Celery has no types
def archive_export_build_task(export_id: int) -> str:
    """Write a call's archive ZIP asked for in the admin; return the export's status.

    Beside the service that queues it (``archive_export_request``); the workers import this
    module through ``CELERY_IMPORTS``.
    """
    return archive_export_build(export=ArchiveExport(pk=export_id)).status
