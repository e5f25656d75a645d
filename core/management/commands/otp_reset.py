from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.otp.services import otp_reset


class Command(BaseCommand):
    help = _(
        "Azzera la verifica in due passaggi di un utente che ha perso il telefono: rimuove "
        "la sua app di autenticazione e i suoi codici di emergenza. Al prossimo accesso "
        "all'area riservata ne attiverà una nuova."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME", help=_("Nome utente da azzerare."))

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("Utente «%(name)s» inesistente.") % {"name": username})
        removed = otp_reset(user=user)
        if removed:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "Verifica in due passaggi azzerata per «%(name)s»: al prossimo "
                        "accesso attiverà un nuovo telefono."
                    )
                    % {"name": username}
                )
            )
        else:
            self.stdout.write(
                _("«%(name)s» non aveva la verifica in due passaggi attiva.") % {"name": username}
            )
