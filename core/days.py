"""The days people may type where a day becomes a span of time (reports, lists of a day).

A day is turned into the instants that bound it in Rome's time; for the first and last days
of the calendar those instants do not exist (year 0, year 10000), and Python refuses them. No
figure of this platform lies before 2000 or after 2099: a day outside is a typing mistake,
refused with a sentence, not carried into a query.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.validators import BaseValidator, MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
OUT_OF_RANGE = _("Scegli un giorno tra il 01/01/2000 e il 31/12/2099.")


def start_of_day(day: date) -> datetime:
    """Midnight at the start of a day, in the platform's time zone (Europe/Rome)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def day_validators() -> list[BaseValidator]:
    """For a form's ``DateField``: the same bounds, with the same sentence."""
    return [
        MinValueValidator(FIRST_DAY, message=OUT_OF_RANGE),
        MaxValueValidator(LAST_DAY, message=OUT_OF_RANGE),
    ]
