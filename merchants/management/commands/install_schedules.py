from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask

from merchants.services.schedules import DEFAULT_SCHEDULES, schedules_install


class Command(BaseCommand):
    help = _(
        "Crea le attività periodiche che Celery beat esegue (scadenza dei buoni alle 00:30, "
        "liquidazione degli esercenti alle 02:00, ora di Roma). Si può rilanciare a ogni "
        "rilascio: un'attività esistente mantiene l'orario e lo stato scelti "
        "nell'amministrazione."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help=_("Rimette anche l'orario predefinito e riattiva le attività disattivate."),
        )

    def handle(self, *args, **options):
        result = schedules_install(reset=options["reset"])
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Attività periodiche: %(created)s create, %(updated)s aggiornate, "
                    "%(unchanged)s già a posto."
                )
                % vars(result)
            )
        )
        tasks = PeriodicTask.objects.select_related("crontab").filter(
            name__in=[schedule.name for schedule in DEFAULT_SCHEDULES]
        )
        for task in tasks.order_by("name"):
            when = (
                f"{task.crontab.hour}:{task.crontab.minute.zfill(2)} ({task.crontab.timezone})"
                if task.crontab
                else str(task.schedule)
            )
            state = _("attiva") if task.enabled else _("disattivata")
            self.stdout.write(f"  {task.name}: {when}, {state}")
