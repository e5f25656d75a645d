"""A Redis outage: issuing waits and starts again, the dashboard and transparency still open.

Redis is "down" for real here: its URL points at a port where nothing listens, so every
connection is refused, as when the Redis server stops.
"""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from core.models import Role
from tests.vouchers.test_admin_programme import logged_in, messages_of, staff, step
from tests.vouchers.test_celery_worker import forget_broker_connections
from tests.vouchers.test_programme import run_to_ranking
from vouchers.models import IssuanceRun, Voucher
from vouchers.selectors.runs import stale_issuance_runs
from vouchers.services.issuance import issuance_run_needs_queue, issuance_runs_recover

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down():
    """The Celery broker is a Redis that refuses connections; tasks are not run inline."""
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url=CLOSED_PORT)
    forget_broker_connections()
    state = {"down": True}

    def back_up():
        # Redis is back: tasks run (inline here, as a worker would run them).
        celery_app.conf.update(saved)
        forget_broker_connections()
        state["down"] = False

    yield back_up
    if state["down"]:
        back_up()


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": CLOSED_PORT,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    caches._settings = None  # the handler reads the new settings
    yield
    caches.close_all()


def test_issuing_with_redis_down_tells_staff_and_a_later_click_starts_it(broker_down):
    from django.test import Client

    initiative, _applications = run_to_ranking(3)
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    client = logged_in(Client(), manager)

    clicked = step(client, "issue_run_detail", initiative)
    assert clicked.status_code == 302
    run = IssuanceRun.objects.get(initiative=initiative)
    assert (run.status, run.queued_at) == (IssuanceRun.Status.QUEUED, None)
    assert "La coda dei compiti non risponde" in run.error
    assert any("La coda dei compiti non risponde" in m for m in messages_of(clicked))
    assert Voucher.objects.filter(initiative=initiative).count() == 0
    run_page = client.get(clicked["Location"]).content.decode()
    assert "La coda dei compiti non risponde" in run_page

    # Still down: a second click hands the same run over again, and fails the same way.
    step(client, "issue_run_detail", initiative)
    assert IssuanceRun.objects.filter(initiative=initiative).count() == 1

    broker_down()
    again = step(client, "issue_run_detail", initiative)
    assert again.status_code == 302
    assert any("emissione avviata" in m for m in messages_of(again))
    run.refresh_from_db()
    assert (run.status, run.vouchers_issued, run.error) == (IssuanceRun.Status.DONE, 3, "")
    assert IssuanceRun.objects.filter(initiative=initiative).count() == 1
    assert Voucher.objects.filter(initiative=initiative).count() == 3


def test_the_periodic_recovery_hands_over_runs_the_queue_lost_and_leaves_fresh_ones(
    broker_down,
):
    lost_initiative, _ = run_to_ranking(2)
    fresh_initiative, _ = run_to_ranking(1)
    now = timezone.now()
    never_taken = IssuanceRun.objects.create(initiative=lost_initiative)
    fresh = IssuanceRun.objects.create(initiative=fresh_initiative, queued_at=now)
    # Still down: nothing is handed over, nothing breaks.
    assert issuance_runs_recover(now=now) == 0
    never_taken.refresh_from_db()
    assert never_taken.status == IssuanceRun.Status.QUEUED and never_taken.error

    broker_down()
    assert issuance_runs_recover(now=now) == 1
    never_taken.refresh_from_db()
    fresh.refresh_from_db()
    assert never_taken.status == IssuanceRun.Status.DONE and never_taken.vouchers_issued == 2
    assert fresh.status == IssuanceRun.Status.QUEUED  # its worker may still take it

    # Taken by the queue but started by no worker for longer than the limit: handed over.
    later = now + timedelta(minutes=11)
    assert [run.pk for run in stale_issuance_runs(now=later)] == [fresh.pk]
    assert issuance_runs_recover(now=later) == 1
    fresh.refresh_from_db()
    assert fresh.status == IssuanceRun.Status.DONE and fresh.vouchers_issued == 1


def test_the_dashboard_and_the_transparency_page_open_with_the_cache_down(cache_down):
    from django.test import Client

    initiative, _applications = run_to_ranking(2)
    client = Client()
    page = client.get(reverse("transparency", args=[initiative.pk]))
    assert page.status_code == 200 and initiative.title in page.content.decode()
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    logged_in(client, manager)
    dashboard = client.get(reverse("admin:index"))
    assert dashboard.status_code == 200
    calls = client.get(reverse("admin:vouchers_initiative_changelist"))
    assert calls.status_code == 200 and initiative.title in calls.content.decode()


@override_settings(ISSUANCE_RUN_STALE_MINUTES=10)
def test_a_run_on_its_way_is_not_handed_over_twice(broker_down):
    initiative, _ = run_to_ranking(1)
    run = IssuanceRun.objects.create(initiative=initiative, queued_at=timezone.now())
    assert not issuance_run_needs_queue(run)
    assert issuance_run_needs_queue(run, now=timezone.now() + timedelta(minutes=11))


def test_telling_the_outcomes_with_redis_down_keeps_them_to_send_and_a_later_click_sends(
    broker_down, mailoutbox
):
    from django.test import Client

    from vouchers.models import Notification

    initiative, applications = run_to_ranking(2)
    for application in applications:
        application.applicant.email = f"persona{application.pk}@example.org"
        application.applicant.save(update_fields=["email"])
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    client = logged_in(Client(), manager)

    told = step(client, "notify_detail", initiative)
    assert told.status_code == 302
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}
    assert mailoutbox == []

    broker_down()
    step(client, "notify_detail", initiative)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert len(mailoutbox) == 2
