"""Background tasks of shops: thin wrappers that call one service."""

from datetime import date

from celery import shared_task


@shared_task
def settle_due_merchants(day: str | None = None) -> int:
    """Settle the shops due today (or on ``day``, AAAA-MM-GG); return how many were settled."""
    from merchants.services.schedules import due_settlements_run

    return len(due_settlements_run(day=date.fromisoformat(day) if day else None))
