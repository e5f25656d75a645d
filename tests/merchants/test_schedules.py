"""Settlements on a schedule, the expiry task, and the periodic tasks of Celery beat."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.celery import app as celery_app
from core.models import Organization, Role
from core.roles import membership_grant
from core.selectors import account_balance, money_sum, unbalanced_journals
from merchants.models import Merchant, Redemption, Settlement
from merchants.selectors import (
    merchant_settlement_is_due,
    merchants_due_for_settlement,
    scheduled_cutoff,
)
from merchants.services.redemption import voucher_redeem
from merchants.services.schedules import DEFAULT_SCHEDULES, due_settlements_run, schedules_install
from merchants.services.tills import Till
from merchants.tasks import settle_due_merchants
from tests import factories
from vouchers.models import Voucher
from vouchers.tasks import expire_due_vouchers

pytestmark = pytest.mark.django_db

Frequency = Merchant.SettlementFrequency
A_MONDAY = date(2026, 11, 23)
WEEK = [A_MONDAY + timedelta(days=n) for n in range(7)]


def shop(initiative, frequency: str, weekday: int = 0) -> Merchant:
    merchant = factories.merchant(initiative=initiative)
    merchant.settlement_frequency = frequency
    merchant.settlement_weekday = weekday
    merchant.save(update_fields=["settlement_frequency", "settlement_weekday"])
    return merchant


def sell(merchant: Merchant, voucher: Voucher, amount: str) -> Redemption:
    return voucher_redeem(
        till=Till(merchant=merchant),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"k{factories.next_id()}",
    ).redemption


def money_state(merchants) -> dict:
    """Every figure a settlement run moves, to the cent, for these shops."""
    return {
        merchant.pk: (
            account_balance(key=merchant.payable_account_key),
            account_balance(key=merchant.settled_account_key),
            money_sum(Settlement.objects.filter(merchant=merchant), "total"),
            Settlement.objects.filter(merchant=merchant).count(),
        )
        for merchant in merchants
    }


# --- which shops are due ---------------------------------------------------------------


def test_a_daily_shop_is_due_every_day_of_the_week():
    merchant = Merchant(settlement_frequency=Frequency.DAILY)
    assert [merchant_settlement_is_due(merchant, day=day) for day in WEEK] == [True] * 7


def test_a_weekly_shop_is_due_only_on_its_weekday():
    for weekday in Merchant.Weekday.values:
        merchant = Merchant(settlement_frequency=Frequency.WEEKLY, settlement_weekday=weekday)
        due = [day for day in WEEK if merchant_settlement_is_due(merchant, day=day)]
        assert due == [WEEK[weekday]]


def test_an_on_demand_shop_is_never_due_whatever_its_weekday():
    for weekday in Merchant.Weekday.values:
        merchant = Merchant(settlement_frequency=Frequency.ON_DEMAND, settlement_weekday=weekday)
        assert not any(merchant_settlement_is_due(merchant, day=day) for day in WEEK)


def test_new_shops_are_settled_on_demand_until_the_agency_chooses_a_frequency():
    merchant = factories.merchant()
    assert merchant.settlement_frequency == Frequency.ON_DEMAND
    assert not merchants_due_for_settlement(day=A_MONDAY).filter(pk=merchant.pk).exists()


def test_the_query_of_due_shops_agrees_with_the_rule_on_every_day():
    initiative = factories.initiative()
    shops = [shop(initiative, Frequency.DAILY), shop(initiative, Frequency.ON_DEMAND, 2)]
    shops += [shop(initiative, Frequency.WEEKLY, weekday) for weekday in (0, 3, 6)]
    for day in WEEK:
        expected = {m.pk for m in shops if merchant_settlement_is_due(m, day=day)}
        found = set(merchants_due_for_settlement(day=day).values_list("pk", flat=True))
        assert found == expected, day


def test_a_weekday_outside_the_week_is_refused_by_the_database():
    merchant = factories.merchant()
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.filter(pk=merchant.pk).update(settlement_weekday=7)


def test_the_scheduled_cutoff_is_the_last_moment_of_the_day_before():
    cutoff = timezone.localtime(scheduled_cutoff(A_MONDAY))
    assert (cutoff.date(), cutoff.hour, cutoff.minute, cutoff.second) == (
        date(2026, 11, 22),
        23,
        59,
        59,
    )
    next_moment = timezone.localtime(cutoff + timedelta(microseconds=1))
    assert (next_moment.date(), next_moment.time()) == (A_MONDAY, time.min)


# --- the task settles exactly the due shops, once --------------------------------------


@pytest.fixture
def shops_with_sales():
    """Shops of every frequency with sales made today; the run is for tomorrow."""
    tomorrow = timezone.localdate() + timedelta(days=1)
    other_day = (tomorrow.weekday() + 3) % 7
    initiative = factories.initiative()
    shops = {
        "daily": shop(initiative, Frequency.DAILY),
        "weekly_due": shop(initiative, Frequency.WEEKLY, tomorrow.weekday()),
        "weekly_not_due": shop(initiative, Frequency.WEEKLY, other_day),
        "on_demand": shop(initiative, Frequency.ON_DEMAND, tomorrow.weekday()),
    }
    vouchers = [factories.voucher(initiative=initiative) for _ in range(3)]
    amounts = {
        "daily": ["12.34", "0.01"],
        "weekly_due": ["33.33", "0.10", "9.99"],
        "weekly_not_due": ["7.77"],
        "on_demand": ["5.55"],
    }
    for name, sales in amounts.items():
        for voucher, amount in zip(vouchers, sales, strict=False):
            sell(shops[name], voucher, amount)
    return {"day": tomorrow, "shops": shops}


def test_the_task_settles_exactly_the_due_shops_and_a_second_run_nothing_more(
    shops_with_sales,
):
    day, shops = shops_with_sales["day"], shops_with_sales["shops"]

    settled = settle_due_merchants.delay(day=day.isoformat()).get()

    assert settled == 2
    by_shop = {s.merchant_id: s for s in Settlement.objects.all()}
    assert set(by_shop) == {shops["daily"].pk, shops["weekly_due"].pk}
    assert by_shop[shops["daily"].pk].total == Decimal("12.35")
    assert by_shop[shops["weekly_due"].pk].total == Decimal("43.42")
    assert by_shop[shops["weekly_due"].pk].redemptions_count == 3
    for name in ("weekly_not_due", "on_demand"):
        assert account_balance(key=shops[name].payable_account_key) != Decimal("0.00")
        assert not Redemption.objects.filter(merchant=shops[name]).exclude(settlement=None)
    for name in ("daily", "weekly_due"):
        assert account_balance(key=shops[name].payable_account_key) == Decimal("0.00")
    assert not unbalanced_journals().exists()

    before = money_state(shops.values())
    assert settle_due_merchants.delay(day=day.isoformat()).get() == 0
    assert money_state(shops.values()) == before
    assert Settlement.objects.count() == 2


def test_a_scheduled_run_leaves_the_sales_of_its_own_day_to_the_next_run(shops_with_sales):
    shops = shops_with_sales["shops"]
    today = timezone.localdate()

    assert due_settlements_run(day=today) == []  # today's sales are after the cutoff

    settlements = due_settlements_run(day=shops_with_sales["day"])
    assert shops["daily"].pk in {s.merchant_id for s in settlements}


def test_the_settle_merchants_command_with_due_settles_only_the_due_shops(capsys):
    today = timezone.localdate()
    initiative = factories.initiative()
    due = shop(initiative, Frequency.WEEKLY, today.weekday())
    on_demand = shop(initiative, Frequency.ON_DEMAND)
    voucher = factories.voucher(initiative=initiative)
    sell(due, voucher, "10.00")
    sell(on_demand, voucher, "20.00")

    call_command("settle_merchants", "--due", "--until", today.isoformat())

    assert list(Settlement.objects.values_list("merchant_id", "total")) == [
        (due.pk, Decimal("10.00"))
    ]
    assert "Liquidazioni create: 1" in capsys.readouterr().out

    call_command("settle_merchants", "--until", today.isoformat())  # everyone, as before
    assert set(Settlement.objects.values_list("merchant_id", flat=True)) == {due.pk, on_demand.pk}


def test_the_settle_merchants_command_refuses_due_with_a_chosen_shop():
    merchant = factories.merchant()
    with pytest.raises(CommandError, match="non entrambi"):
        call_command("settle_merchants", "--due", "--merchant", str(merchant.pk))
    assert not Settlement.objects.exists()


def test_the_settle_merchants_help_explains_due(capsys):
    with pytest.raises(SystemExit):
        call_command("settle_merchants", "--help")
    assert "--due" in capsys.readouterr().out


# --- expiry -------------------------------------------------------------------------------


def test_the_expiry_task_expires_past_vouchers_once():
    initiative = factories.initiative(valid_until=timezone.localdate() + timedelta(days=1))
    voucher = factories.voucher(initiative=initiative)
    later = (timezone.localdate() + timedelta(days=5)).isoformat()

    assert expire_due_vouchers.delay(day=later).get() == 1
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED
    assert expire_due_vouchers.delay(day=later).get() == 0


# --- install_schedules ------------------------------------------------------------------


def test_install_schedules_creates_the_periodic_tasks_and_is_idempotent(capsys):
    call_command("install_schedules")

    tasks = {task.name: task for task in PeriodicTask.objects.select_related("crontab")}
    assert set(tasks) == {schedule.name for schedule in DEFAULT_SCHEDULES}
    expiry = tasks["Scadenza dei buoni"]
    settlements = tasks["Liquidazione degli esercenti"]
    assert expiry.task == "vouchers.tasks.expire_due_vouchers"
    assert (expiry.crontab.hour, expiry.crontab.minute) == ("0", "30")
    assert settlements.task == "merchants.tasks.settle_due_merchants"
    assert (settlements.crontab.hour, settlements.crontab.minute) == ("2", "0")
    for task in tasks.values():
        assert str(task.crontab.timezone) == "Europe/Rome"
        assert task.crontab.day_of_week == "*"
        assert task.enabled
    assert tasks["Attribuzione della spesa alle fonti"].task == "vouchers.funding.attribute_funding"
    anonymise = tasks["Anonimizzazione dei bandi oltre la conservazione"]
    assert anonymise.task == "vouchers.tasks.expired_initiatives_anonymise"
    assert tasks["Cifre del cruscotto"].task == "merchants.tasks.refresh_dashboard_figures"
    purge = tasks["Eliminazione degli archivi scaricabili scaduti"]
    assert purge.task == "vouchers.tasks.archive_exports_purge"
    recovery = tasks["Ripresa delle emissioni dei buoni in coda"]
    assert recovery.task == "vouchers.tasks.issuance_runs_recover"
    assert (recovery.crontab.hour, recovery.crontab.minute) == ("*", "*/5")
    assert f"{len(DEFAULT_SCHEDULES)} create" in capsys.readouterr().out

    snapshot = list(PeriodicTask.objects.order_by("pk").values())
    crontabs = CrontabSchedule.objects.count()
    call_command("install_schedules")
    assert list(PeriodicTask.objects.order_by("pk").values()) == snapshot
    assert CrontabSchedule.objects.count() == crontabs
    assert f"0 create, 0 aggiornate, {len(DEFAULT_SCHEDULES)} già a posto" in (
        capsys.readouterr().out
    )


def test_every_scheduled_task_is_a_registered_celery_task():
    celery_app.loader.import_default_modules()
    for schedule in DEFAULT_SCHEDULES:
        assert schedule.task in celery_app.tasks, schedule.task


def test_install_schedules_keeps_the_agencys_time_and_switch_unless_reset():
    schedules_install()
    task = PeriodicTask.objects.get(name="Liquidazione degli esercenti")
    three_am, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    task.crontab = three_am
    task.enabled = False
    task.task = "merchants.tasks.old_name"
    task.save()

    result = schedules_install()
    task.refresh_from_db()
    assert (result.updated, task.task) == (1, "merchants.tasks.settle_due_merchants")
    assert (task.crontab_id, task.enabled) == (three_am.pk, False)

    schedules_install(reset=True)
    task.refresh_from_db()
    assert (task.crontab.hour, task.crontab.minute, task.enabled) == ("2", "0", True)


# --- the admin --------------------------------------------------------------------------


def staff(role: str, organization: Organization):
    person = factories.user(is_staff=True)
    membership_grant(user=person, organization=organization, role=role)
    return person


def beat_url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:django_celery_beat_{model}_{view}", args=args)


def test_the_periodic_tasks_admin_loads_for_a_superuser(client):
    schedules_install()
    task = PeriodicTask.objects.get(name="Scadenza dei buoni")
    client.force_login(factories.user(is_staff=True, is_superuser=True))

    page = client.get(beat_url("periodictask"))
    assert page.status_code == 200
    assert "Liquidazione degli esercenti" in page.content.decode()
    assert client.get(beat_url("periodictask", "change", task.pk)).status_code == 200
    assert client.get(beat_url("periodictask", "add")).status_code == 200
    assert client.get(beat_url("crontabschedule")).status_code == 200

    index = client.get(reverse("admin:index")).content.decode()
    assert beat_url("periodictask") in index  # the sidebar's link


def test_an_agency_admin_manages_the_periodic_tasks(client):
    schedules_install()
    task = PeriodicTask.objects.select_related("crontab").get(name="Liquidazione degli esercenti")
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    client.force_login(staff(Role.AGENCY_ADMIN, agency))
    assert client.get(beat_url("periodictask")).status_code == 200
    assert client.get(beat_url("periodictask", "add")).status_code == 200
    time_page = client.get(beat_url("crontabschedule", "change", task.crontab_id))
    assert "Liquidazione degli esercenti" in time_page.content.decode()

    response = client.post(
        beat_url("periodictask"),
        {"action": "disable_tasks", ACTION_CHECKBOX_NAME: [task.pk]},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert not task.enabled


def test_the_periodic_tasks_admin_is_forbidden_to_a_municipal_operator(client):
    schedules_install()
    task = PeriodicTask.objects.get(name="Scadenza dei buoni")
    operator = staff(Role.DESK_OPERATOR, factories.municipality())
    client.force_login(operator)

    assert client.get(beat_url("periodictask")).status_code == 403
    assert client.get(beat_url("periodictask", "change", task.pk)).status_code == 403
    assert client.get(beat_url("crontabschedule")).status_code == 403
    response = client.post(beat_url("periodictask", "delete", task.pk), {"post": "yes"})
    assert response.status_code == 403
    assert PeriodicTask.objects.filter(pk=task.pk, enabled=True).exists()

    index = client.get(reverse("admin:index")).content.decode()
    assert beat_url("periodictask") not in index


def test_the_merchant_form_offers_the_settlement_frequency(client):
    merchant = factories.merchant()
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk]))
    content = page.content.decode()
    assert 'name="settlement_frequency"' in content
    assert 'name="settlement_weekday"' in content


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("it", "1 attività avviata.", "2 attività avviate."),
        ("en", "1 task started.", "2 tasks started."),
    ],
)
def test_running_tasks_by_hand_is_confirmed_in_the_readers_language(
    client, monkeypatch, language, one, two
):
    from celery.app.task import Task
    from django.contrib.messages import get_messages
    from django.utils import translation

    schedules_install()
    started = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **k: started.append(self.name))
    tasks = list(PeriodicTask.objects.order_by("pk")[:2])
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    client.force_login(staff(Role.AGENCY_ADMIN, agency))
    # The requests switch the thread's language: put back the one before afterwards.
    with translation.override(None):
        for chosen in (tasks[:1], tasks):
            response = client.post(
                beat_url("periodictask"),
                {"action": "run_tasks", ACTION_CHECKBOX_NAME: [task.pk for task in chosen]},
                HTTP_ACCEPT_LANGUAGE=language,
            )
            assert response.status_code == 302
    # Both confirmations wait to be shown on the next page.
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert said == [one, two]
    assert len(started) == 3
