"""Staff issue a call's vouchers while Redis is down, then again once it is back."""

import pytest
from django.urls import reverse

from core.models import Role
from tests.vouchers.test_admin_programme import staff
from tests.vouchers.test_programme import run_to_ranking
from tests.vouchers.test_redis_outage import broker_down  # noqa: F401 (a fixture)
from vouchers.models import IssuanceRun, Voucher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_issuing_with_redis_down_says_so_and_the_next_click_issues(
    live_server,
    launch_browser,
    broker_down,  # noqa: F811
):
    initiative, _applications = run_to_ranking(2)
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    page = launch_browser(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(manager.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    issue = f"{live_server.url}{reverse('admin:vouchers_initiative_issue_run_detail', args=[initiative.pk])}"
    page.goto(issue)
    page.get_by_role("button", name="Emetti i buoni").click()
    page.get_by_text("La coda dei compiti non risponde").first.wait_for()
    assert "Server Error" not in page.content()
    run = IssuanceRun.objects.get(initiative=initiative)
    assert run.status == IssuanceRun.Status.QUEUED

    broker_down()  # Redis is back
    page.goto(issue)
    page.get_by_role("button", name="Emetti i buoni").click()
    page.get_by_text("emissione avviata").wait_for()
    run.refresh_from_db()
    assert run.status == IssuanceRun.Status.DONE
    assert Voucher.objects.filter(initiative=initiative).count() == 2
