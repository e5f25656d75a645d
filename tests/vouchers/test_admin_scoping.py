"""What each role sees in the admin: lists, pages, filters, form choices, exports, dashboard.

A joint call of municipalities A and B, each with its citizens, vouchers and shops, a call
of B alone, a tutor's case in B. Staff of A see A's people and the whole joint call; tutors
their cases; funders totals only; the agency everything.
"""

import csv
import io
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Contribution, Fund, Organization, Role
from core.roles import membership_grant
from merchants.models import Merchant, Redemption
from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from tests import factories
from tests.config.test_admin_pages import admin_url, applicant_in, open_call_in
from vouchers.models import Application, Beneficiary, Initiative, Notification, Voucher
from vouchers.services.applications import (
    application_approve,
    application_document_add,
    application_submit,
)
from vouchers.services.initiatives import initiative_close
from vouchers.services.issuing import initiative_issue
from vouchers.services.notifications import initiative_notify_outcomes
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
PDF = b"%PDF-1.4\n%%EOF\n"


def staff(role: str, organization: Organization):
    person = factories.user()
    membership_grant(user=person, organization=organization, role=role)
    return person


def redeem(voucher: Voucher, shop: Merchant, amount: str = "10.00") -> Redemption:
    return voucher_redeem(
        till=Till(merchant=shop, user=factories.cashier(shop=shop)),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"scoping-{next(_keys)}",
    ).redemption


@pytest.fixture
def world():
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    a = factories.municipality(name="Comune A")
    b = factories.municipality(name="Comune B")
    caritas = Organization.objects.create(kind=Organization.Kind.THIRD_SECTOR, name="Caritas")
    tutor = staff(Role.TUTOR, caritas)

    joint = open_call_in(a, budget="1000.00")
    joint.municipalities.add(b)
    from_a = application_submit(
        initiative=joint, data=applicant_in(a), channel=Application.Channel.DESK
    )
    from_b = application_submit(
        initiative=joint, data=applicant_in(b), channel=Application.Channel.TUTOR, tutor=tutor
    )
    also_b = application_submit(
        initiative=joint, data=applicant_in(b), channel=Application.Channel.DESK
    )
    application_document_add(
        application=also_b,
        uploaded=SimpleUploadedFile("isee.pdf", PDF, content_type="application/pdf"),
        title="ISEE",
    )
    for application in (from_a, from_b, also_b):
        application_approve(application=application, reason="ok", by=None)
    initiative_close(initiative=joint)
    initiative_rank(initiative=joint)
    initiative_issue(initiative=joint)
    initiative_notify_outcomes(initiative=joint)
    shop_a = factories.merchant(initiative=joint, municipalities=[a])
    shop_b = factories.merchant(initiative=joint, municipalities=[b])
    voucher_a = from_a.vouchers.get()
    voucher_b = from_b.vouchers.get()
    redeem(voucher_a, shop_a)
    redeem(voucher_b, shop_b)

    only_b = open_call_in(b)
    waiting_in_b = application_submit(
        initiative=only_b, data=applicant_in(b), channel=Application.Channel.DESK
    )
    funder = Contribution.objects.filter(fund=joint.fund).first().funder
    return {
        "a": a,
        "b": b,
        "joint": joint,
        "only_b": only_b,
        "from_a": from_a,
        "from_b": from_b,
        "also_b": also_b,
        "waiting_in_b": waiting_in_b,
        "voucher_a": voucher_a,
        "voucher_b": voucher_b,
        "shop_a": shop_a,
        "shop_b": shop_b,
        "tutor": tutor,
        "agency": agency,
        "funder": funder,
    }


def rows(client, model, **params) -> set:
    response = client.get(admin_url(model, "changelist"), params)
    assert response.status_code == 200, (model, response.status_code)
    return set(response.context["cl"].result_list)


def status_of_list(client, model) -> int:
    return client.get(admin_url(model, "changelist")).status_code


def opens(client, obj) -> bool:
    response = client.get(admin_url(type(obj), "change", obj.pk))
    assert response.status_code in (200, 302, 403), response.status_code
    return response.status_code == 200


def exported(client, model) -> list[dict]:
    response = client.post(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export"),
        {"format": "0", "resource": "0"},
    )
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    # Italian: semicolons between columns, as an Italian spreadsheet reads them.
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def filter_choices(client, model, parameter: str) -> set[str]:
    """The choices a list's filter offers (a filter with one choice is not shown)."""
    response = client.get(admin_url(model, "changelist"))
    for spec in response.context["cl"].filter_specs:
        if getattr(spec, "lookup_kwarg", None) == parameter:
            return {str(label) for _pk, label in spec.lookup_choices}
    return set()


# --- the agency --------------------------------------------------------------------------


def test_agency_admin_sees_every_municipality(client, world):
    client.force_login(staff(Role.AGENCY_ADMIN, world["agency"]))
    assert rows(client, Application) == {
        world["from_a"],
        world["from_b"],
        world["also_b"],
        world["waiting_in_b"],
    }
    assert rows(client, Voucher) >= {world["voucher_a"], world["voucher_b"]}
    assert rows(client, Merchant) == {world["shop_a"], world["shop_b"]}
    assert len(rows(client, Redemption)) == 2
    assert opens(client, world["from_b"]) and opens(client, world["voucher_b"].beneficiary)
    fiscal_codes = {row["codice fiscale"] for row in exported(client, Beneficiary)}
    assert world["from_b"].applicant.fiscal_code in fiscal_codes
    assert client.get(reverse("admin:index")).status_code == 200


# --- municipal staff ---------------------------------------------------------------------


def test_programme_manager_sees_his_municipality_and_the_whole_joint_call(client, world):
    client.force_login(staff(Role.PROGRAMME_MANAGER, world["a"]))

    assert rows(client, Initiative) == {world["joint"]}
    assert rows(client, Application) == {world["from_a"]}
    assert rows(client, Beneficiary) == {world["from_a"].applicant}
    assert rows(client, Voucher) == {world["voucher_a"]}
    assert rows(client, Merchant) == {world["shop_a"]}
    assert {r.voucher for r in rows(client, Redemption)} == {world["voucher_a"]}
    assert {n.application for n in rows(client, Notification)} == {world["from_a"]}

    assert opens(client, world["joint"]) and opens(client, world["from_a"])
    assert opens(client, world["voucher_a"]) and opens(client, world["shop_a"])
    for hidden in [
        world["only_b"],
        world["from_b"],
        world["voucher_b"],
        world["voucher_b"].beneficiary,
        world["shop_b"],
    ]:
        assert not opens(client, hidden), hidden
    history = reverse("admin:vouchers_beneficiary_history", args=[world["from_b"].applicant_id])
    assert client.get(history).status_code == 404

    second = open_call_in(world["a"])
    assert filter_choices(client, Application, "initiative__id__exact") == {
        str(world["joint"]),
        str(second),
    }
    assert filter_choices(client, Voucher, "initiative__id__exact") == {
        str(world["joint"]),
        str(second),
    }
    other_town = factories.municipality(name="Comune C")
    world["joint"].municipalities.add(other_town)
    assert filter_choices(client, Voucher, "beneficiary__municipality__id__exact") == set()
    assert str(world["only_b"]) not in filter_choices(
        client, Initiative, "municipalities__id__exact"
    )
    # A published call's municipalities are frozen; while a joint call is still a draft, he
    # may choose his municipality and keep those already in it.
    Initiative.objects.filter(pk=world["joint"].pk).update(status=Initiative.Status.DRAFT)
    form = client.get(admin_url(Initiative, "change", world["joint"].pk)).context["adminform"].form
    assert set(form.fields["municipalities"].queryset) == {world["a"], world["b"], other_town}
    new_call = client.get(admin_url(Initiative, "add")).context["adminform"].form
    assert set(new_call.fields["municipalities"].queryset) == {world["a"]}

    codes = {row["codice fiscale"] for row in exported(client, Application)}
    assert codes == {world["from_a"].applicant.fiscal_code}
    vouchers = exported(client, Voucher)
    assert [row["codice (ultime cifre)"] for row in vouchers] == [world["voucher_a"].code_hint]
    assert world["voucher_a"].code not in str(vouchers)
    assert {row["intestatario"] for row in exported(client, Redemption)} == {
        world["from_a"].applicant.full_name
    }


def test_desk_operator_works_only_on_his_municipality(client, world):
    client.force_login(staff(Role.DESK_OPERATOR, world["a"]))
    assert rows(client, Application) == {world["from_a"]}
    assert rows(client, Beneficiary) == {world["from_a"].applicant}
    assert opens(client, world["joint"]) and opens(client, world["from_a"])
    assert not opens(client, world["also_b"])
    document = world["also_b"].documents.get()
    download = reverse(
        "admin:vouchers_application_document", args=[world["also_b"].pk, document.pk]
    )
    assert client.get(download).status_code == 404
    code_page = reverse(
        "admin:vouchers_beneficiary_access_code_issue_detail", args=[world["from_b"].applicant_id]
    )
    assert client.post(code_page, {"confirm": "yes"}).status_code == 404
    letters = reverse("admin:vouchers_initiative_letters_detail", args=[world["joint"].pk])
    response = client.get(letters)
    summary = {str(label): value for label, value in response.context["summary"]}
    assert summary["Da stampare"] == 1  # only A's applicant, of three letters in the call
    # B's own call is not his: no page, no intake.
    assert not opens(client, world["only_b"])
    intake = client.get(
        reverse("admin:vouchers_application_add"), {"initiative": world["only_b"].pk}
    )
    assert intake.context["form"] is None
    export = {row["codice fiscale"] for row in exported(client, Beneficiary)}
    assert export == {world["from_a"].applicant.fiscal_code}
    # Rows chosen from the list: another municipality's id posted by hand is refused.
    chosen = client.post(
        admin_url(Application, "changelist"),
        {"action": "export_admin_action", "_selected_action": [world["from_a"].pk]},
    )
    assert chosen.status_code == 200
    refused = client.post(
        reverse("admin:vouchers_application_export"),
        {"format": "0", "resource": "0", "export_items": [world["also_b"].pk]},
    )
    assert refused.status_code == 200
    assert world["also_b"].applicant.fiscal_code not in refused.content.decode()
    assert not refused["Content-Type"].startswith("text/csv")
    form = client.get(admin_url(Beneficiary, "change", world["from_a"].applicant_id))
    choices = form.context["adminform"].form.fields["municipality"].queryset
    assert set(choices) == {world["a"]}


def test_validator_cannot_decide_another_municipalitys_application(client, world):
    validator = staff(Role.VALIDATOR, world["b"])
    client.force_login(staff(Role.VALIDATOR, world["a"]))
    assert rows(client, Application) == {world["from_a"]}
    response = client.post(
        admin_url(Application, "changelist"),
        {
            "action": "reject_applications",
            "_selected_action": [world["waiting_in_b"].pk],
            "confirm": "yes",
            "reason": "Non di mia competenza",
        },
    )
    assert response.status_code in (200, 302)
    world["waiting_in_b"].refresh_from_db()
    assert world["waiting_in_b"].status == Application.Status.SUBMITTED
    url = reverse("admin:vouchers_application_reject_detail", args=[world["waiting_in_b"].pk])
    assert client.post(url, {"confirm": "yes", "reason": "x"}).status_code == 404
    assert status_of_list(client, Voucher) == 403  # validators do not handle vouchers

    client.force_login(validator)
    assert rows(client, Application) == {world["from_b"], world["also_b"], world["waiting_in_b"]}


def test_tutor_sees_only_his_cases(client, world):
    client.force_login(world["tutor"])
    assert rows(client, Application) == {world["from_b"]}
    assert rows(client, Beneficiary) == {world["from_b"].applicant}
    assert not opens(client, world["from_a"]) and not opens(client, world["also_b"])
    assert status_of_list(client, Voucher) == 403
    assert status_of_list(client, Redemption) == 403
    assert status_of_list(client, Merchant) == 403
    codes = {row["codice fiscale"] for row in exported(client, Application)}
    assert codes == {world["from_b"].applicant.fiscal_code}
    # Published calls of any municipality, for his next referrals.
    intake = client.get(reverse("admin:vouchers_application_add"))
    assert set(intake.context["calls"]) == {world["only_b"]}


def test_fund_manager_reads_funds_and_no_person(client, world):
    client.force_login(staff(Role.FUND_MANAGER, world["agency"]))
    assert status_of_list(client, Fund) == 200
    for model in [Application, Beneficiary, Voucher, Redemption, Notification]:
        assert status_of_list(client, model) == 403, model
    export = reverse("admin:vouchers_beneficiary_export")
    assert client.post(export, {"format": "0", "resource": "0"}).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 200


def test_funder_sees_only_the_aggregates_of_what_he_paid_for(client, world):
    funder = staff(Role.FUNDER, world["funder"])
    client.force_login(funder)
    for model in [Initiative, Application, Beneficiary, Voucher, Redemption, Merchant, Fund]:
        assert status_of_list(client, model) == 403, model
    assert not opens(client, world["from_a"])
    export = reverse("admin:vouchers_application_export")
    assert client.post(export, {"format": "0", "resource": "0"}).status_code == 403

    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert set(figures["by_initiative"]) == {world["joint"].pk}  # not B's own call
    assert figures["overall"].vouchers == 3
    assert "top_shops" not in response.context
    content = response.content.decode()
    for person in [world["from_a"].applicant, world["from_b"].applicant]:
        assert person.fiscal_code not in content and person.last_name not in content
    assert world["shop_a"].name not in content
    assert all(kpi["href"] is None for kpi in response.context["kpis"])


def test_dashboard_figures_follow_the_users_municipality(
    client, world, django_assert_max_num_queries
):
    client.force_login(staff(Role.PROGRAMME_MANAGER, world["a"]))
    # The scan of the sales serves the shops and the categories; two small queries place
    # each shop under one category per call.
    with django_assert_max_num_queries(15):
        response = client.get(reverse("admin:index"))
    figures = response.context["figures"]
    content = response.content.decode()
    assert world["shop_a"].name in content and world["shop_b"].name not in content
    assert figures["by_initiative"][world["joint"].pk].decisions == 1
    assert figures["by_initiative"][world["joint"].pk].average_days is not None
    assert set(figures["by_town"]) == {world["a"].pk}
    assert figures["overall"].vouchers == 1
    assert figures["overall"].redemptions == 1
    assert figures["overall"].applications_total == 1

    client.force_login(staff(Role.AGENCY_ADMIN, world["agency"]))
    figures = client.get(reverse("admin:index")).context["figures"]
    assert set(figures["by_town"]) == {world["a"].pk, world["b"].pk}
    assert figures["overall"].applications_total == 4
    assert figures["by_initiative"][world["joint"].pk].allocated > 0


# --- lists stay cheap for scoped users ---------------------------------------------------


def list_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    return len(queries)


# Session, user, his permissions (2), his roles and municipalities (1), the count, the
# page, and the choices of the related filters.
SCOPED_LIMITS = {Application: 9, Beneficiary: 8, Voucher: 9, Redemption: 8, Notification: 8}


def test_scoped_changelists_take_the_same_few_queries_with_fifty_rows(client, world):
    a = world["a"]
    client.force_login(staff(Role.PROGRAMME_MANAGER, a))
    call = open_call_in(a, budget="10000.00")

    def add(count):
        for _ in range(count):
            application = application_submit(
                initiative=call, data=applicant_in(a), channel=Application.Channel.DESK
            )
            application_approve(application=application, reason="ok", by=None)

    add(5)
    few = {model: list_queries(client, model) for model in SCOPED_LIMITS}
    add(45)
    initiative_close(initiative=call)
    initiative_rank(initiative=call)
    initiative_issue(initiative=call)
    initiative_notify_outcomes(initiative=call)
    shop = world["shop_a"]
    for voucher in Voucher.objects.filter(initiative=call)[:50]:
        redeem(voucher, shop, "1.00")
    many = {model: list_queries(client, model) for model in SCOPED_LIMITS}

    for model in (Application, Voucher):
        listing = client.get(admin_url(model, "changelist")).context["cl"]
        # Fifty rows to a page: the first page is full, the 51st row is on the second.
        assert (len(listing.result_list), listing.result_count) == (50, 51), model
        assert len(rows(client, model, p=2)) == 1, model
    assert many == few
    over = {model: count for model, count in many.items() if count > SCOPED_LIMITS[model]}
    assert not over, over
