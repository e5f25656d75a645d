"""Handing the issuing runs of calls to the task queue, and picking up the ones it lost.

A run is created «in coda» and handed to the queue after commit. If the queue (Redis)
refuses it, the run stays queued without ``queued_at``, with a sentence for staff: the next
click on «Emetti i buoni», or the periodic recovery, hands it over again. So does a run that
the queue took but no worker started within ``ISSUANCE_RUN_STALE_MINUTES``. Issuing again is
harmless: each application is issued once.
"""

import logging
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext

from vouchers.models import IssuanceRun
from vouchers.selectors.runs import issuance_stale_before, stale_issuance_runs
from vouchers.task_queue import BROKER_UNAVAILABLE, ISSUANCE_RUN_EXECUTE, task_enqueue

logger = logging.getLogger(__name__)


def issuance_run_needs_queue(run: IssuanceRun, *, now: datetime | None = None) -> bool:
    """Whether a queued run was never taken by the queue, or waited too long for a worker."""
    if run.status != IssuanceRun.Status.QUEUED:
        return False
    return run.queued_at is None or run.queued_at < issuance_stale_before(now or timezone.now())


def issuance_run_enqueue(*, run_id: int) -> bool:
    """Hand a queued run to the task queue; return False, and say why on the run, if it fails."""
    # Recorded first: with tasks inline (no Redis) the run is already over when delay() returns.
    queued_at = timezone.now()
    IssuanceRun.objects.filter(pk=run_id, status=IssuanceRun.Status.QUEUED).update(
        queued_at=queued_at, error=""
    )
    try:
        task_enqueue(ISSUANCE_RUN_EXECUTE, run_id)
    except BROKER_UNAVAILABLE as error:
        logger.warning("Issuance run %s not queued: %s", run_id, error)
        IssuanceRun.objects.filter(
            pk=run_id, status=IssuanceRun.Status.QUEUED, queued_at=queued_at
        ).update(
            queued_at=None,
            error=gettext(
                "La coda dei compiti non risponde: l'emissione non è ancora partita. "
                "Riparte da sola quando la coda torna disponibile, o premendo di nuovo "
                "«Emetti i buoni»."
            ),
        )
        return False
    return True


def issuance_runs_recover(*, now: datetime | None = None) -> int:
    """Hand the stale queued runs to the queue again; return how many it took."""
    return sum(
        issuance_run_enqueue(run_id=run_id)
        for run_id in stale_issuance_runs(now=now).values_list("pk", flat=True)
    )
