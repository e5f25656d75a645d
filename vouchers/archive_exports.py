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

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from vouchers.archive import ARCHIVABLE_STATUSES, COPY_BLOCK, ArchiveError, initiative_archive_zip
from vouchers.models import ArchiveExport, Initiative, archive_export_path

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (ArchiveExport.Status.QUEUED, ArchiveExport.Status.RUNNING)


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


def archive_export_request(*, initiative: Initiative, by) -> ArchiveExport:
    """Queue the preparation of a closed call's archive, or return the one already on its way."""
    from vouchers.tasks import archive_export_build as build_task

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
        transaction.on_commit(lambda: build_task.delay(export.pk))
    return export


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(COPY_BLOCK):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _finish(export: ArchiveExport, **fields) -> ArchiveExport:
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


def archive_export_download(*, export: ArchiveExport, by) -> ArchiveExport:
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


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:  # the row no longer points at it: log and go on
                logger.exception("Could not delete the archive file %s", name)

    if names:
        transaction.on_commit(delete)


def _expire_ready(exports: QuerySet[ArchiveExport]) -> int:
    """Mark the ready ones of these exports as gone and delete their files once that is
    committed; return how many."""
    with transaction.atomic():
        ready = dict(
            exports.filter(status=ArchiveExport.Status.DONE)
            .select_for_update()
            .values_list("pk", "file")
        )
        ArchiveExport.objects.filter(pk__in=list(ready)).update(
            status=ArchiveExport.Status.EXPIRED, file="", expires_at=timezone.now()
        )
        _delete_files_on_commit([name for name in ready.values() if name])
    return len(ready)


def archive_export_discard(*, export: ArchiveExport) -> ArchiveExport:
    """Delete a ready archive's file before its time (staff have what they needed)."""
    if not _expire_ready(ArchiveExport.objects.filter(pk=export.pk)):
        export.refresh_from_db()
        if export.status in ACTIVE_STATUSES:
            raise ArchiveExportError("not_ready")
        raise ArchiveExportError("expired")
    export.refresh_from_db()
    return export


def archive_exports_purge(*, now: datetime | None = None) -> int:
    """Delete the files of the archives whose days are over; return how many."""
    return _expire_ready(ArchiveExport.objects.filter(expires_at__lte=now or timezone.now()))


def initiative_archives_delete(*, initiative: Initiative) -> int:
    """Delete the ready archives of a call now (its personal data are being anonymised)."""
    return _expire_ready(ArchiveExport.objects.filter(initiative=initiative))
