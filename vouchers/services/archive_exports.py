"""The prepared archives of a call (``ArchiveExport``) deleted: when their days are over, or
at once when the call's personal data are anonymised. Preparing and downloading them is in
``reports.archive.exports``."""

import logging
from datetime import datetime

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from vouchers.models import ArchiveExport, Initiative

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (ArchiveExport.Status.QUEUED, ArchiveExport.Status.RUNNING)


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:  # the row no longer points at it: log and go on
                logger.exception("Could not delete the archive file %s", name)

    if names:
        transaction.on_commit(delete)


def archive_exports_expire(*, exports: QuerySet[ArchiveExport]) -> int:
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


def initiative_archives_delete(*, initiative: Initiative) -> int:
    """Delete the ready archives of a call now (its personal data are being anonymised)."""
    return archive_exports_expire(exports=ArchiveExport.objects.filter(initiative=initiative))


def archive_exports_purge(*, now: datetime | None = None) -> int:
    """Delete the files of the archives whose days are over; return how many."""
    return archive_exports_expire(
        exports=ArchiveExport.objects.filter(expires_at__lte=now or timezone.now())
    )
