from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reports.attribution import attribution_refresh, attribution_refresh_all
from vouchers.models import Initiative


class Command(BaseCommand):
    help = _(
        "Attribuisce alle fonti di finanziamento di ogni bando gli utilizzi, gli annullamenti "
        "e i rimborsi non ancora attribuiti. Si può rilanciare senza effetti doppi."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bando", type=int, help=_("Solo il bando con questo id."))

    def handle(self, *args, **options):
        if options["bando"]:
            initiative = Initiative.objects.filter(pk=options["bando"]).first()
            if initiative is None:
                raise CommandError(_("Bando %(id)s inesistente.") % {"id": options["bando"]})
            written = attribution_refresh(initiative=initiative).rows_written
        else:
            written = attribution_refresh_all()
        self.stdout.write(_("Righe di attribuzione scritte: %(count)s") % {"count": written})
