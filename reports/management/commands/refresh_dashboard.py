"""Compute the admin dashboard's figures now (the agency's and each municipality's)."""

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from reports.dashboard import dashboard_figures_refresh


class Command(BaseCommand):
    help = _(
        "Calcola ora le cifre del cruscotto dell'agenzia e di ogni comune (le tiene pochi "
        "minuti nella cache)."
    )

    def handle(self, *args, **options):
        start = time.perf_counter()
        count = dashboard_figures_refresh()
        self.stdout.write(
            _("Cifre del cruscotto calcolate per %(count)d ambiti in %(seconds).1f s.")
            % {"count": count, "seconds": time.perf_counter() - start}
        )
