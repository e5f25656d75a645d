"""A published call's rules, as its officer meets them in the admin: read-only, amended with
a reason that the call's page then shows; an archived call offers nothing to save. An
application's outcome, as staff read it in the list."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Initiative
from vouchers.services.applications import application_reject, application_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_officer_amends_a_published_calls_base_amount_with_a_reason(live_server, launch_browser):
    staff = factories.user(is_staff=True, is_superuser=True)
    initiative = open_call()
    change = f"{live_server.url}{reverse('admin:vouchers_initiative_change', args=[initiative.pk])}"

    page = launch_browser(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(staff.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    page.goto(change)
    expect(page.locator("input[name=title]")).to_have_count(1)  # texts stay editable
    expect(page.locator("input[name=amount_base]")).to_have_count(0)
    expect(page.locator("input[name=max_isee]")).to_have_count(0)

    page.get_by_role("link", name="Rettifica del bando").first.click()
    page.wait_for_url(re.compile(r".*/rettifica/$"))
    page.get_by_label("Importo base").fill("150.00")
    page.get_by_role("button", name="Registra la rettifica").click()
    expect(page.get_by_text("Indica il motivo della rettifica").first).to_be_visible()
    initiative.refresh_from_db()
    assert initiative.amount_base == Decimal("100.00")

    page.get_by_label("Importo base").fill("150.00")
    page.get_by_label("Motivo della rettifica").fill("Determina n. 45 del 3 dicembre")
    page.get_by_role("button", name="Registra la rettifica").click()
    page.wait_for_url(change)
    expect(page.get_by_text("Rettifica registrata: importo base.")).to_be_visible()
    page.locator("a", has_text="Rettifiche").click()  # the tab
    expect(page.get_by_text("Determina n. 45 del 3 dicembre")).to_be_visible()
    initiative.refresh_from_db()
    assert initiative.amount_base == Decimal("150.00")

    Initiative.objects.filter(pk=initiative.pk).update(status=Initiative.Status.ARCHIVED)
    page.goto(change)
    expect(page.locator("input[name=title]")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Salva"))).to_have_count(0)
    expect(page.get_by_role("link", name="Rettifica del bando")).to_have_count(0)


def test_a_rejected_application_reads_rejected_in_the_list_and_its_page(
    live_server, launch_browser
):
    staff = factories.user(is_staff=True, is_superuser=True)
    initiative = open_call()
    rejected = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk"
    )
    application_reject(application=rejected, reason="ISEE oltre soglia", by=staff)

    page = launch_browser(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(staff.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    page.goto(f"{live_server.url}{reverse('admin:vouchers_application_changelist')}")
    outcome = page.locator("tr.data-row td.field-outcome_display")
    expect(outcome).to_have_text("Respinta")
    page.goto(
        f"{live_server.url}{reverse('admin:vouchers_application_change', args=[rejected.pk])}"
    )
    expect(page.get_by_text("In attesa della graduatoria")).to_have_count(0)
