"""English as read in Italy: day before month, 24-hour clock.

With Django's American defaults a staff member reading the admin in English would see
"12/05/2026" for 5 December and, worse, have "05/12/2026" typed into a date field read as
12 May. British English has the Italian order; the clock is the one on every Italian form.
"""

from django.conf.locale.en_GB.formats import *  # noqa: F403

TIME_FORMAT = "H:i"  # '14:30'
DATETIME_FORMAT = "j M Y, H:i"  # '25 Oct 2006, 14:30'
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # '25/10/2006 14:30'
