import pytest

from core.models import Organization, Role
from core.roles import ROLE_PERMISSIONS, membership_grant, roles_sync
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.selectors.scope import (
    applications_for,
    beneficiaries_for,
    initiatives_for,
    voucher_visible_to,
    vouchers_for,
)
from vouchers.services.applications import application_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_towns():
    """A joint call of two municipalities with one application from each, and a tutor's case."""
    initiative = open_call()
    town_a = initiative.municipalities.get()
    town_b = factories.municipality(name="Comune B")
    initiative.municipalities.add(town_b)
    tutor = factories.user()
    membership_grant(
        user=tutor,
        organization=Organization.objects.create(
            kind=Organization.Kind.THIRD_SECTOR, name="Caritas"
        ),
        role=Role.TUTOR,
    )
    from_a = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk"
    )
    data_b = applicant(initiative, 2)
    data_b.municipality = town_b
    from_b = application_submit(initiative=initiative, data=data_b, channel="tutor", tutor=tutor)
    return {
        "initiative": initiative,
        "a": town_a,
        "b": town_b,
        "tutor": tutor,
        "from_a": from_a,
        "from_b": from_b,
    }


def staff(role: str, organization: Organization):
    person = factories.user()
    membership_grant(user=person, organization=organization, role=role)
    return person


@pytest.mark.parametrize("role", [Role.DESK_OPERATOR, Role.VALIDATOR, Role.PROGRAMME_MANAGER])
def test_municipal_staff_see_only_their_citizens_but_the_whole_joint_call(two_towns, role):
    person = staff(role, two_towns["a"])
    assert list(applications_for(user=person)) == [two_towns["from_a"]]
    assert list(beneficiaries_for(user=person)) == [two_towns["from_a"].applicant]
    assert list(initiatives_for(user=person)) == [two_towns["initiative"]]


def test_tutor_sees_only_his_own_cases(two_towns):
    assert list(applications_for(user=two_towns["tutor"])) == [two_towns["from_b"]]
    assert list(beneficiaries_for(user=two_towns["tutor"])) == [two_towns["from_b"].applicant]


def test_funder_sees_no_person(two_towns):
    funder = staff(Role.FUNDER, factories.funder())
    assert not applications_for(user=funder).exists()
    assert not beneficiaries_for(user=funder).exists()
    assert ROLE_PERMISSIONS[Role.FUNDER] == {}


def test_agency_admin_sees_every_municipality(two_towns):
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    person = staff(Role.AGENCY_ADMIN, agency)
    assert set(applications_for(user=person)) == {two_towns["from_a"], two_towns["from_b"]}


def test_staff_of_another_town_cannot_open_a_voucher_qr(two_towns):
    voucher = factories.voucher(
        initiative=two_towns["initiative"], holder=two_towns["from_b"].applicant
    )
    person = staff(Role.PROGRAMME_MANAGER, two_towns["a"])
    assert voucher_visible_to(user=person, voucher_id=voucher.pk) is None
    assert not vouchers_for(user=person).filter(pk=voucher.pk).exists()
    other = staff(Role.PROGRAMME_MANAGER, two_towns["b"])
    assert voucher_visible_to(user=other, voucher_id=voucher.pk) == voucher


def test_roles_sync_is_repeatable_and_gives_each_group_its_permissions():
    first = roles_sync()
    second = roles_sync()
    assert {g.pk for g in first.values()} == {g.pk for g in second.values()}
    validator = second[Role.VALIDATOR]
    codenames = set(validator.permissions.values_list("codename", flat=True))
    assert "change_application" in codenames and "add_merchant" not in codenames


def test_migrate_brings_every_role_group_up_to_date():
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    agency = Group.objects.get(name=Role(Role.AGENCY_ADMIN).label)
    agency.permissions.clear()  # as a group created before a role gained permissions
    call_command("migrate", verbosity=0)
    codenames = set(agency.permissions.values_list("codename", flat=True))
    assert {"view_posting", "view_journal", "view_account"} <= codenames
