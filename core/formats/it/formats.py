"""Italian dates as Italian writes them: "7 dicembre 2026", "lunedì 7 dicembre 2026, 14:30".

Django's Italian formats put a leading zero on the day ("07 Dicembre 2026"); the names of
months and days are written in lower case through the project's catalogue.
"""

from django.conf.locale.it.formats import *  # noqa: F403

DATE_FORMAT = "j F Y"  # '25 ottobre 2006'
DATETIME_FORMAT = "l j F Y, H:i"  # 'mercoledì 25 ottobre 2006, 14:30'
