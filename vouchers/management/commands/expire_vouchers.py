from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from vouchers.services.expiry import vouchers_expire_due


class Command(BaseCommand):
    help = _(
        "Fa scadere i buoni attivi la cui validità è finita; il residuo torna al budget del "
        "bando. Si può rilanciare senza effetti doppi."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            help=_("Giorno di riferimento AAAA-MM-GG (predefinito: oggi)."),
        )

    def handle(self, *args, **options):
        today = None
        if options["date"]:
            try:
                today = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(_("Data non valida: usa AAAA-MM-GG.")) from exc
        count = vouchers_expire_due(today=today)
        self.stdout.write(_("Buoni scaduti: %(count)s") % {"count": count})
