"""Settlements on the shops' calendars, the expiry task, and Celery beat's schedule."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from core.selectors import account_balance, money_sum, unbalanced_journals
from merchants.models import Merchant, Redemption, Settlement
from merchants.selectors import (
    merchant_settlement_is_due,
    merchants_due_for_settlement,
    scheduled_cutoff,
)
from merchants.services.redemption import voucher_redeem
from merchants.services.schedules import due_settlements_run
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


# --- Celery beat's schedule -------------------------------------------------------------

ROME = ZoneInfo("Europe/Rome")
SCHEDULE = settings.CELERY_BEAT_SCHEDULE


def test_the_beat_schedule_runs_every_periodic_task_at_its_time():
    tasks = {name: entry["task"] for name, entry in SCHEDULE.items()}
    assert tasks == {
        "Scadenza dei buoni": "vouchers.tasks.expire_due_vouchers",
        "Liquidazione degli esercenti": "merchants.tasks.settle_due_merchants",
        "Attribuzione della spesa alle fonti": "vouchers.funding.attribute_funding",
        "Cifre del cruscotto": "merchants.tasks.refresh_dashboard_figures",
        "Anonimizzazione dei bandi oltre la conservazione": (
            "vouchers.tasks.expired_initiatives_anonymise"
        ),
        "Ripresa delle emissioni dei buoni in coda": "vouchers.tasks.issuance_runs_recover",
        "Ricevute di consegna degli SMS": "vouchers.tasks.sms_receipts_check",
        "Eliminazione degli archivi scaricabili scaduti": "vouchers.tasks.archive_exports_purge",
    }
    expiry = SCHEDULE["Scadenza dei buoni"]["schedule"]
    settlements = SCHEDULE["Liquidazione degli esercenti"]["schedule"]
    recovery = SCHEDULE["Ripresa delle emissioni dei buoni in coda"]["schedule"]
    assert (expiry.hour, expiry.minute) == ({0}, {30})
    assert (settlements.hour, settlements.minute) == ({2}, {0})
    assert (recovery.hour, recovery.minute) == (set(range(24)), set(range(0, 60, 5)))
    for entry in SCHEDULE.values():
        assert isinstance(entry["schedule"], crontab)
        assert entry["schedule"].day_of_week == set(range(7))  # every day
    assert celery_app.conf.timezone == "Europe/Rome"
    assert celery_app.conf.beat_schedule == SCHEDULE  # what `celery -A config beat` reads


def test_every_scheduled_task_is_a_registered_celery_task():
    celery_app.loader.import_default_modules()
    for entry in SCHEDULE.values():
        assert entry["task"] in celery_app.tasks, entry["task"]


def beat_entry(name: str) -> ScheduleEntry:
    entry = SCHEDULE[name]
    return ScheduleEntry(name=name, task=entry["task"], schedule=entry["schedule"], app=celery_app)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ROME)


def due_now(entry: ScheduleEntry, *, last_run: datetime, now: datetime) -> bool:
    schedule = entry.schedule
    schedule.nowfun = lambda: now
    try:
        return schedule.is_due(last_run).is_due
    finally:
        schedule.nowfun = None


def test_beat_starts_the_settlement_run_once_a_day_at_two_in_rome():
    entry = beat_entry("Liquidazione degli esercenti")
    yesterday = A_MONDAY - timedelta(days=1)
    # Run yesterday at 02:00: due again from 02:00 today, not before.
    assert not due_now(entry, last_run=at(yesterday, 2), now=at(A_MONDAY, 1, 59, 59))
    assert due_now(entry, last_run=at(yesterday, 2), now=at(A_MONDAY, 2, 0, 1))
    # Run today at 02:00: not due again the same day.
    for hour in (2, 3, 12, 23):
        assert not due_now(entry, last_run=at(A_MONDAY, 2), now=at(A_MONDAY, hour, 30))


def test_the_run_beat_starts_settles_each_calendar_when_due_and_not_twice(shops_with_sales):
    """The one nightly task reads every shop's calendar: over a week of nightly runs a daily
    shop is settled the first night, a weekly one on its weekday, an on-request one never."""
    shops = shops_with_sales["shops"]
    task = celery_app.tasks[beat_entry("Liquidazione degli esercenti").task]
    tomorrow = shops_with_sales["day"]
    settled = {}  # shop → the night of its settlement
    for offset in range(7):
        night = tomorrow + timedelta(days=offset)
        for _again in range(2):  # beat restarted: the night's run once more
            task.delay(day=night.isoformat()).get()
        for merchant_id in Settlement.objects.values_list("merchant_id", flat=True):
            settled.setdefault(merchant_id, night)

    assert settled == {
        shops["daily"].pk: tomorrow,
        shops["weekly_due"].pk: tomorrow,
        shops["weekly_not_due"].pk: tomorrow + timedelta(days=3),  # its weekday
    }
    assert Settlement.objects.count() == 3
    assert account_balance(key=shops["on_demand"].payable_account_key) == Decimal("5.55")
    assert not unbalanced_journals().exists()


# --- the admin --------------------------------------------------------------------------


def test_the_merchant_form_offers_the_settlement_frequency(client):
    merchant = factories.merchant()
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk]))
    content = page.content.decode()
    assert 'name="settlement_frequency"' in content
    assert 'name="settlement_weekday"' in content
