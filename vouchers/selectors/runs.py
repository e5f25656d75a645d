"""Retention and issuing runs: calls due for anonymisation, issuing runs left stale."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from vouchers.models import (
    Initiative,
    IssuanceRun,
)


def retention_expired(initiative: Initiative, *, today: date) -> bool:
    return today > initiative.retain_until


def initiatives_due_for_anonymisation(*, today: date | None = None) -> list[Initiative]:
    """Archived calls past their term whose personal data is still there."""
    today = today or timezone.localdate()
    candidates = Initiative.objects.filter(
        status=Initiative.Status.ARCHIVED, personal_data_erased_at__isnull=True
    ).order_by("pk")
    return [i for i in candidates if retention_expired(i, today=today)]


def issuance_stale_before(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.ISSUANCE_RUN_STALE_MINUTES)


def stale_issuance_runs(*, now: datetime | None = None) -> QuerySet[IssuanceRun]:
    """Queued runs that the queue never took, or that no worker started in time."""
    return IssuanceRun.objects.filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=issuance_stale_before(now or timezone.now())),
        status=IssuanceRun.Status.QUEUED,
    ).order_by("pk")
