"""The staff's admin pages pass axe-core, on the pages whose markup needed fixing.

Each page below failed a serious check before: unnamed date and time boxes (split date and
time fields), unnamed boxes in tabular inlines, a <ul> without list items around the list's
buttons (django-import-export), the help icon of the two-box selectors, the empty name of
autocomplete boxes (select2), and white text on unfold's green and orange buttons.
"""

import pytest
from django.urls import reverse

from core.models import Membership, Role
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Application
from vouchers.services.applications import application_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_admin_pages_that_needed_fixes_pass_axe(live_server, launch_browser, axe):
    staff = factories.user(is_staff=True, is_superuser=True)
    initiative = open_call()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk", entered_by=staff
    )
    assert application.status == Application.Status.SUBMITTED  # approve: a green button
    town = initiative.municipalities.get()
    Membership.objects.create(user=staff, organization=town, role=Role.DESK_OPERATOR)
    shop = factories.merchant(initiative=initiative)

    page = launch_browser(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.get_by_label("Nome utente").fill(staff.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")

    pages = [
        reverse("admin:vouchers_initiative_change", args=[initiative.pk]),
        reverse("admin:vouchers_application_change", args=[application.pk]),
        reverse("admin:vouchers_application_changelist"),
        reverse("admin:vouchers_beneficiary_add"),
        reverse("admin:core_organization_change", args=[town.pk]),
        reverse("admin:merchants_merchant_change", args=[shop.pk]),
        reverse("admin:auth_user_change", args=[staff.pk]),
    ]
    problems = {}
    for path in pages:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("load")
        found = axe(page)
        if found:
            problems[path] = found
    assert problems == {}
