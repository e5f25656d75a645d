from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from vouchers.models import Application
from vouchers.selectors.runs import initiatives_due_for_anonymisation
from vouchers.services.retention import initiative_anonymise


class Command(BaseCommand):
    help = _(
        "Anonimizza i dati personali dei beneficiari dei bandi archiviati il cui termine di "
        "conservazione è passato; importi e conteggi restano. Si può rilanciare."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Elenca i bandi che sarebbero anonimizzati, senza cambiare nulla."),
        )
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
        due = initiatives_due_for_anonymisation(today=today)
        if not due:
            self.stdout.write(_("Nessun bando da anonimizzare."))
            return
        for initiative in due:
            applications = Application.objects.filter(initiative=initiative).count()
            line = _(
                "Bando n. %(id)s «%(title)s»: dati conservati fino al %(date)s, %(count)s domande"
            ) % {
                "id": initiative.pk,
                "title": initiative.title,
                "date": initiative.retain_until.strftime("%d/%m/%Y"),
                "count": applications,
            }
            if options["dry_run"]:
                self.stdout.write(_("Da anonimizzare: %(call)s") % {"call": line})
                continue
            result = initiative_anonymise(initiative=initiative, today=today)
            self.stdout.write(
                _(
                    "Anonimizzato: %(call)s; %(people)s beneficiari anonimizzati, %(kept)s "
                    "conservati per altri bandi."
                )
                % {
                    "call": line,
                    "people": result.beneficiaries_anonymised,
                    "kept": len(result.beneficiaries_kept),
                }
            )
