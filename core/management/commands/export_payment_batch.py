from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.models import PaymentBatch
from core.money import format_euro
from core.services.payments import PaymentError, payment_batch_export


class Command(BaseCommand):
    help = _(
        "Scrive il file SEPA pain.001.001.09 di una distinta autorizzata. Si può rilanciare: "
        "il file è sempre identico e la distinta non si paga due volte."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "batch_id", type=int, metavar="BATCH_ID", help=_("Numero della distinta.")
        )
        parser.add_argument(
            "--out", required=True, metavar="FILE", help=_("Dove scrivere il file XML.")
        )
        parser.add_argument("--user", help=_("Nome utente di chi esporta la distinta."))

    def handle(self, *args: Any, **options: Any) -> None:
        batch = PaymentBatch.objects.filter(pk=options["batch_id"]).first()
        if batch is None:
            raise CommandError(_("Distinta %(id)s inesistente.") % {"id": options["batch_id"]})
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(_("Utente «%(name)s» inesistente.") % {"name": options["user"]})
        if batch.status not in (
            PaymentBatch.Status.RELEASED,
            PaymentBatch.Status.EXPORTED,
            PaymentBatch.Status.PAID,
        ):
            raise CommandError(
                _("La distinta %(id)s è «%(status)s»: si esporta solo una distinta autorizzata.")
                % {"id": batch.pk, "status": batch.get_status_display()}
            )
        path = Path(options["out"])
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("wb") as out:
                batch = payment_batch_export(batch=batch, out=out, exported_by=user)
        except PaymentError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(exc.detail) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        self.stdout.write(
            self.style.SUCCESS(
                _("Distinta %(id)s (%(message_id)s): %(count)s bonifici, %(total)s → %(path)s")
                % {
                    "id": batch.pk,
                    "message_id": batch.message_id,
                    "count": batch.transfers_count,
                    "total": format_euro(batch.total),
                    "path": path,
                }
            )
        )
