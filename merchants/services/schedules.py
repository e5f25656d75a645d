"""Settlements on a schedule, and the periodic tasks that Celery beat runs.

A shop is settled every day, every week on its weekday, or only on request (from the admin
or ``settle_merchants``). The nightly run settles the shops that are due up to the end of the
previous day, so its periods are whole days and running it again the same day settles
nothing more.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from merchants.models import Settlement
from merchants.selectors import merchants_due_for_settlement, scheduled_cutoff
from merchants.services.settlements import settlements_run


def due_settlements_run(
    *, day: date | None = None, until: datetime | None = None, prepared_by=None
) -> list[Settlement]:
    """Settle the shops due on ``day`` (default today), up to the end of the day before.

    ``until`` overrides the cutoff. Each shop is settled in its own transaction by
    ``settlements_run``, which takes only confirmed redemptions not yet settled: a second
    run settles nothing more.
    """
    day = day or timezone.localdate()
    due = list(merchants_due_for_settlement(day=day).values_list("pk", flat=True))
    if not due:
        return []
    return settlements_run(
        prepared_by=prepared_by, merchants=due, until=until or scheduled_cutoff(day)
    )


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    minute: str
    hour: str
    description: str


ROME = "Europe/Rome"


# Names are the keys: install_schedules finds its rows by them and leaves others alone.
DEFAULT_SCHEDULES = (
    DefaultSchedule(
        name="Scadenza dei buoni",
        task="vouchers.tasks.expire_due_vouchers",
        minute="30",
        hour="0",
        description=(
            "Fa scadere i buoni attivi la cui validità è finita; il residuo torna al bando."
        ),
    ),
    DefaultSchedule(
        name="Liquidazione degli esercenti",
        task="merchants.tasks.settle_due_merchants",
        minute="0",
        hour="2",
        description=(
            "Liquida gli esercenti con frequenza giornaliera, e quelli settimanali nel loro "
            "giorno, fino alla fine del giorno prima."
        ),
    ),
    DefaultSchedule(
        name="Attribuzione della spesa alle fonti",
        task="vouchers.funding.attribute_funding",
        minute="0",
        hour="3",
        description=(
            "Attribuisce ai finanziatori di ogni bando gli utilizzi e i rimborsi nuovi, "
            "secondo la regola del bando (proporzionale o per priorità)."
        ),
    ),
    DefaultSchedule(
        name="Cifre del cruscotto",
        task="merchants.tasks.refresh_dashboard_figures",
        minute="*/5",
        hour="*",
        description=(
            "Ricalcola le cifre del cruscotto dell'amministrazione, dell'agenzia e di ogni "
            "comune, perché la pagina si apra subito."
        ),
    ),
    DefaultSchedule(
        name="Anonimizzazione dei bandi oltre la conservazione",
        task="vouchers.tasks.expired_initiatives_anonymise",
        minute="30",
        hour="3",
        description=(
            "Anonimizza i dati personali dei bandi archiviati il cui termine di "
            "conservazione è passato; importi e conteggi restano."
        ),
    ),
    DefaultSchedule(
        name="Ripresa delle emissioni dei buoni in coda",
        task="vouchers.tasks.issuance_runs_recover",
        minute="*/5",
        hour="*",
        description=(
            "Riaffida alla coda dei compiti le emissioni dei buoni che la coda non ha preso "
            "(Redis non raggiungibile) o che nessun worker ha avviato in tempo."
        ),
    ),
    DefaultSchedule(
        name="Ricevute di consegna degli SMS",
        task="vouchers.tasks.sms_receipts_check",
        minute="*/10",
        hour="*",
        description=(
            "Chiede al gestore SMS se gli esiti inviati per SMS sono stati consegnati; un SMS "
            "non consegnato diventa una lettera da stampare."
        ),
    ),
    DefaultSchedule(
        name="Eliminazione degli archivi scaricabili scaduti",
        task="vouchers.tasks.archive_exports_purge",
        minute="45",
        hour="3",
        description=(
            "Elimina i file ZIP degli archivi dei bandi preparati per lo scaricamento, "
            "passati i giorni in cui restano disponibili: contengono dati personali."
        ),
    ),
)


@dataclass(frozen=True)
class SchedulesInstalled:
    created: int
    updated: int
    unchanged: int


def schedules_install(*, reset: bool = False) -> SchedulesInstalled:
    """Create the periodic tasks BuonoComune needs, or bring them up to date.

    A task that exists keeps the time and the enabled flag the agency set in the admin;
    only what it runs and its description are updated. ``reset`` also puts back the default
    time, no arguments, and enables it. Running it again changes nothing.
    """
    created = updated = unchanged = 0
    with transaction.atomic():
        for default in DEFAULT_SCHEDULES:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=default.minute,
                hour=default.hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=ROME,
            )
            what = {"task": default.task, "description": default.description}
            when = {
                "crontab_id": crontab.pk,
                "interval_id": None,
                "solar_id": None,
                "clocked_id": None,
                "args": "[]",
                "kwargs": "{}",
                "one_off": False,
                "enabled": True,
            }
            task = PeriodicTask.objects.filter(name=default.name).first()
            if task is None:
                PeriodicTask.objects.create(name=default.name, **what, **when)
                created += 1
                continue
            wanted = {**what, **when} if reset else what
            changed = {
                field: value for field, value in wanted.items() if getattr(task, field) != value
            }
            if not changed:
                unchanged += 1
                continue
            for field, value in changed.items():
                setattr(task, field, value)
            # PeriodicTask.save() also tells a running beat that the schedule changed.
            task.save()
            updated += 1
    return SchedulesInstalled(created=created, updated=updated, unchanged=unchanged)
