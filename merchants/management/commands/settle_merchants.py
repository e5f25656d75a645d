from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.days import OUT_OF_RANGE, day_in_range
from core.money import ZERO, format_euro
from merchants.services.schedules import due_settlements_run
from merchants.services.settlements import settlements_run


def _cutoff(text: str) -> datetime:
    """A date means up to the end of that day; a date and time, up to that moment."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not day_in_range(day):
                raise CommandError(str(OUT_OF_RANGE))
            return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)) - (
                timedelta(microseconds=1)
            )
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:  # 9999-12-31 has no next day
        raise CommandError(_("Data non valida: usa AAAA-MM-GG oppure AAAA-MM-GGTHH:MM.")) from exc
    if not day_in_range(moment.date()):
        raise CommandError(str(OUT_OF_RANGE))
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = _(
        "Liquida ai negozi accreditati o sospesi gli utilizzi confermati non ancora liquidati: "
        "una liquidazione per negozio, la somma esatta, senza commissioni. Si può rilanciare: "
        "quello che è già liquidato non si liquida di nuovo. Con --due liquida solo i negozi "
        "che oggi hanno la liquidazione programmata (giornaliera, o settimanale nel loro giorno)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until",
            help=_(
                "Liquida gli utilizzi fatti fino a questo momento: AAAA-MM-GG (fino a fine "
                "giornata) o AAAA-MM-GGTHH:MM (predefinito: adesso)."
            ),
        )
        parser.add_argument(
            "--due",
            action="store_true",
            help=_(
                "Solo i negozi con la liquidazione programmata per oggi: quelli giornalieri e "
                "quelli settimanali nel loro giorno, fino alla fine di ieri (o a --until); mai "
                "quelli «su richiesta»."
            ),
        )
        parser.add_argument(
            "--merchant",
            type=int,
            action="append",
            dest="merchants",
            metavar="ID",
            help=_("Solo questo negozio (si può ripetere)."),
        )
        parser.add_argument(
            "--user",
            help=_("Nome utente di chi avvia la liquidazione, registrato nelle liquidazioni."),
        )

    def handle(self, *args, **options):
        until = _cutoff(options["until"]) if options["until"] else None
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(_("Utente «%(name)s» inesistente.") % {"name": options["user"]})
        if options["due"]:
            if options["merchants"]:
                raise CommandError(_("Usa --due oppure --merchant, non entrambi."))
            settlements = due_settlements_run(prepared_by=user, until=until)
        else:
            settlements = settlements_run(
                prepared_by=user, merchants=options["merchants"], until=until
            )
        if not settlements:
            self.stdout.write(_("Nessun utilizzo da liquidare."))
            return
        total = ZERO
        for settlement in settlements:
            total += settlement.total
            self.stdout.write(
                _("Liquidazione n. %(number)s: %(merchant)s, %(count)s utilizzi, %(total)s")
                % {
                    "number": settlement.pk,
                    "merchant": settlement.merchant.name,
                    "count": settlement.redemptions_count,
                    "total": format_euro(settlement.total),
                }
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("Liquidazioni create: %(count)s, totale %(total)s")
                % {"count": len(settlements), "total": format_euro(total)}
            )
        )
