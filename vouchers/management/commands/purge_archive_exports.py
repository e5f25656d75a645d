from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from vouchers.services.archive_exports import archive_exports_purge


class Command(BaseCommand):
    help = _(
        "Elimina i file ZIP degli archivi dei bandi preparati per lo scaricamento, passati i "
        "giorni in cui restano disponibili (ARCHIVE_EXPORT_KEEP_DAYS). Si può rilanciare."
    )

    def handle(self, *args, **options):
        count = archive_exports_purge()
        self.stdout.write(_("Archivi eliminati: %(count)s") % {"count": count})
