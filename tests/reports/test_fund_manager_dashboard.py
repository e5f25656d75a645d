"""The fund manager of the demo (``fondo``) reads the figures of the calls his fund finances:
the dashboard, «Bandi» and «Fonti dei bandi»; an empty chart says so in words."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from core.models import Organization, Role
from core.roles import membership_grant
from tests import factories
from vouchers.models import Initiative, InitiativeFunding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the demo's receipts


@pytest.fixture
def fondo(client):
    call_command("seed_demo", stdout=StringIO())
    cache.clear()
    client.force_login(get_user_model().objects.get(username="fondo"))
    return client


def kpis(response) -> dict[str, object]:
    return {str(kpi["title"]): kpi["value"] for kpi in response.context["kpis"]}


def test_the_demo_fund_manager_sees_the_figures_of_the_calls_his_fund_finances(fondo):
    response = fondo.get(reverse("admin:index"), headers={"accept-language": "it"})
    assert response.status_code == 200
    figures = kpis(response)
    assert figures["Buoni emessi"] > 0
    assert figures["Speso nei negozi"] != "€ 0,00"
    titles = [row[0] for row in response.context["initiative_rows_table"]["rows"]]
    assert titles and set(titles) <= set(Initiative.objects.values_list("title", flat=True))
    assert response.context["chart_has_data"]
    # Figures only: no list of shops, no link to people's applications.
    assert "top_shops" not in response.context
    assert "Negozi accreditati" not in figures


def test_the_demo_fund_manager_lists_the_calls_and_their_sources(fondo):
    calls = fondo.get(reverse("admin:vouchers_initiative_changelist"))
    assert calls.status_code == 200
    assert calls.context["cl"].result_count == Initiative.objects.count()
    sources = fondo.get(reverse("admin:vouchers_initiativefunding_changelist"))
    assert sources.status_code == 200
    assert sources.context["cl"].result_count == InitiativeFunding.objects.count() > 0


def test_a_fund_manager_sees_only_the_calls_of_the_funds_his_organisation_manages(client):
    mine = factories.initiative()
    factories.initiative()  # another organisation's fund
    person = factories.user(is_staff=True)
    membership_grant(user=person, organization=mine.fund.manager, role=Role.FUND_MANAGER)
    client.force_login(person)
    calls = client.get(reverse("admin:vouchers_initiative_changelist"))
    assert list(calls.context["cl"].result_list) == [mine]


def test_a_chart_with_nothing_to_draw_says_so_instead_of_an_axis_from_minus_one(client):
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    person = factories.user(is_staff=True)
    membership_grant(user=person, organization=agency, role=Role.FUND_MANAGER)
    client.force_login(person)
    response = client.get(reverse("admin:index"), headers={"accept-language": "it"})
    content = response.content.decode()
    assert not response.context["chart_has_data"]
    assert 'data-type="bar"' not in content and 'data-type="line"' not in content
    assert "Nessun dato: nessun utilizzo negli ultimi 30 giorni." in content
