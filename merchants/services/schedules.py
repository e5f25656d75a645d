"""Settlements on the shops' calendars.

A shop is settled every day, every week on its weekday, or only on request (from the admin
or ``settle_merchants``): its calendar is its own (``Merchant.settlement_frequency`` and
``settlement_weekday``, edited on the shop's page). One nightly run, the task
``merchants.tasks.settle_due_merchants`` that Celery beat starts (``CELERY_BEAT_SCHEDULE``),
reads the calendars from the database and settles the shops that are due up to the end of the
previous day, so its periods are whole days and running it again the same day settles
nothing more.
"""

from datetime import date, datetime

from django.contrib.auth.models import User
from django.utils import timezone

from merchants.models import Settlement
from merchants.selectors import merchants_due_for_settlement, scheduled_cutoff
from merchants.services.settlements import settlements_run


def due_settlements_run(
    *, day: date | None = None, until: datetime | None = None, prepared_by: User | None = None
) -> list[Settlement]:
    """Settle the shops due on ``day`` (default today), up to the end of the day before.

    ``until`` overrides the cutoff. Each shop is settled in its own transaction by
    ``settlements_run``, which takes only confirmed redemptions not yet settled: a second
    run settles nothing more.
    """
    day = day or timezone.localdate()
    due = list(merchants_due_for_settlement(day=day).values_list("pk", flat=True))
    if not due:
        return []
    return settlements_run(
        prepared_by=prepared_by, merchants=due, until=until or scheduled_cutoff(day)
    )
