"""The admin as staff use it: every page renders, lists stay cheap, actions go through services."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import Contribution, Journal, Membership, Organization, Posting, Role
from core.otp.services import otp_backup_codes_renew
from core.selectors import fund_balance
from merchants.errors import RedemptionError
from merchants.models import DeviceKey, Merchant, Redemption, RefusedAttempt, hash_device_key
from merchants.services.devices import device_key_create
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlement_create
from merchants.services.tills import Till, refused_attempt_record
from reports.attribution import attribution_refresh
from tests import factories
from tests.vouchers.test_programme import fiscal_code
from tests.vouchers.test_reimbursement_review import add_claim_and_transfer
from vouchers.models import Application, ArchiveExport, Initiative, Voucher
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.applications import ApplicantData, application_approve, application_submit
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import issuance_run_start, voucher_issue_bulk
from vouchers.services.notifications import initiative_notify_outcomes
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)
_applicants = itertools.count(1)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def redeem(*, voucher: Voucher, shop: Merchant, person, amount: str) -> Redemption:
    return voucher_redeem(
        till=Till(merchant=shop, user=person),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"admin-test-{next(_keys)}",
    ).redemption


def open_call_in(town: Organization, *, budget: str = "300.00") -> Initiative:
    """A published call of ``town`` receiving applications, €100 each."""
    initiative = factories.initiative(
        municipalities=[town], status=Initiative.Status.DRAFT, budget=budget
    )
    initiative.applications_open_at = timezone.now() - timedelta(days=1)
    initiative.applications_close_at = timezone.now() + timedelta(days=10)
    initiative.amount_rule = Initiative.AmountRule.FIXED
    initiative.amount_base = Decimal("100.00")
    initiative.save()
    return initiative_publish(initiative=initiative)


def applicant_in(town: Organization, **extra) -> ApplicantData:
    n = next(_applicants)
    code, birth, sex = fiscal_code(n)
    return ApplicantData(
        fiscal_code=code,
        first_name="Anna",
        last_name=f"Verdi {n}",
        birth_date=birth,
        sex=sex,
        municipality=town,
        isee=extra.pop("isee", "5000.00"),
        **extra,
    )


def add_ranked_application(*, town: Organization) -> Application:
    """A call of ``town`` ranked with one funded application told by letter, a run queued."""
    initiative = open_call_in(town)
    application = application_submit(
        initiative=initiative, data=applicant_in(town), channel=Application.Channel.DESK
    )
    application_approve(application=application, reason="Requisiti ok", by=None)
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    initiative_notify_outcomes(initiative=initiative)
    issuance_run_start(initiative=initiative)  # queued: runs after commit
    return application


def add_row_everywhere(*, town: Organization) -> dict:
    """Add one more row to the list of every model registered in the admin."""
    initiative = factories.initiative(municipalities=[town], budget="500.00")
    holder = factories.beneficiary(municipality=town)
    voucher = voucher_issue_bulk(initiative=initiative, beneficiaries=[holder])[0]
    shop = factories.merchant(initiative=initiative)
    cashier = factories.cashier(shop=shop)
    device_key_create(merchant=shop, name="Cassa 1")
    redeem(voucher=voucher, shop=shop, person=cashier, amount="10.00")
    settlement = settlement_create(merchant=shop)
    batch = merchant_payment_batch_prepare(settlements=[settlement], prepared_by=factories.user())
    redemption = redeem(voucher=voucher, shop=shop, person=cashier, amount="5.00")
    attribution_refresh(initiative=initiative)  # the call's budget becomes its funding source
    refusal = RedemptionError("voucher_expired")
    refusal.voucher = voucher  # as the redemption service tags the voucher it found
    refused_attempt_record(
        till=Till(merchant=shop, user=cashier),
        action=RefusedAttempt.Action.REDEEM,
        error=refusal,
        code=voucher.code,
        amount="3.00",
        ip_address="127.0.0.1",
    )
    Membership.objects.create(user=cashier, organization=town, role=Role.DESK_OPERATOR)
    Group.objects.create(name=f"Gruppo {factories.next_id()}")
    TOTPDevice.objects.create(user=cashier, name="App", confirmed=True)
    otp_backup_codes_renew(user=cashier)
    application = add_ranked_application(town=town)
    add_claim_and_transfer()
    ArchiveExport.objects.create(initiative=application.initiative)
    return {
        "application": application,
        "initiative": initiative,
        "voucher": voucher,
        "merchant": shop,
        "cashier": cashier,
        "redemption": redemption,
        "settlement": settlement,
        "batch": batch,
    }


@pytest.fixture
def town():
    return factories.municipality()


@pytest.fixture
def world(town):
    return add_row_everywhere(town=town)


def registered_models():
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


# --- every page renders ------------------------------------------------------------------


def test_every_changelist_change_and_add_page_renders(admin_client, world):
    checked = []
    for model in registered_models():
        model_admin = admin.site._registry[model]
        response = admin_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, (model, response.status_code)

        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"no {model._meta.label} to open: extend add_row_everywhere"
        response = admin_client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, (model, response.status_code)
        response = admin_client.get(admin_url(model, "history", obj.pk))
        assert response.status_code == 200, (model, "history", response.status_code)

        request = response.wsgi_request
        if model_admin.has_add_permission(request):
            response = admin_client.get(admin_url(model, "add"))
            assert response.status_code == 200, (model, "add", response.status_code)
        checked.append(model._meta.label)
    assert {"vouchers.Voucher", "merchants.Redemption", "core.Journal"} <= set(checked)


def test_ledger_rows_cannot_be_added_changed_or_deleted_by_hand(admin_client, world):
    for model in [Voucher, Redemption, Journal, RefusedAttempt]:
        obj = model._default_manager.first()
        assert admin_client.get(admin_url(model, "add")).status_code == 403
        assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
        response = admin_client.post(admin_url(model, "change", obj.pk), {})
        assert response.status_code == 403


def test_action_pages_render(admin_client, world):
    voucher, shop, initiative = world["voucher"], world["merchant"], world["initiative"]
    key = DeviceKey.objects.filter(merchant=shop).first()
    pages = [
        reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk]),
        reverse("admin:vouchers_voucher_expire_due"),
        reverse("admin:vouchers_initiative_issue_residents_detail", args=[initiative.pk]),
        reverse("admin:vouchers_initiative_assign_budget_detail", args=[initiative.pk]),
        reverse("admin:merchants_merchant_create_device_key", args=[shop.pk]),
        reverse("admin:merchants_merchant_accredit_detail", args=[shop.pk]),
        reverse("admin:merchants_merchant_suspend_detail", args=[shop.pk]),
        reverse("admin:merchants_merchant_reject_detail", args=[shop.pk]),
        reverse("admin:merchants_devicekey_revoke_detail", args=[key.pk]),
        reverse("admin:core_paymentbatch_release_detail", args=[world["batch"].pk]),
        reverse("admin:core_paymentbatch_cancel_detail", args=[world["batch"].pk]),
        reverse("admin:core_paymentbatch_import_camt054"),
        reverse("admin:merchants_settlement_settle_all"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_voucher_page_shows_grouped_code_qr_redemptions_and_postings(admin_client, world):
    voucher, redemption = world["voucher"], world["redemption"]
    response = admin_client.get(admin_url(Voucher, "change", voucher.pk))
    content = response.content.decode()
    assert voucher.grouped_code in content
    qr = reverse("vouchers:voucher-qr", kwargs={"voucher_id": voucher.pk, "image_format": "svg"})
    assert f'src="{qr}"' in content
    assert redemption.receipt_number in content
    assert "uguale al saldo in contabilità" in content
    assert "Utilizzo del buono" in content  # a ledger posting of the voucher
    assert admin_client.get(qr).status_code == 200


def test_pages_other_than_the_voucher_show_only_the_end_of_its_code(admin_client, world):
    voucher, redemption = world["voucher"], world["redemption"]
    attempt = RefusedAttempt.objects.get(voucher=voucher)
    pages = [
        admin_url(Voucher, "changelist"),
        admin_url(Redemption, "changelist"),
        admin_url(Redemption, "change", redemption.pk),
        admin_url(RefusedAttempt, "change", attempt.pk),
        admin_url(voucher.beneficiary, "change", voucher.beneficiary_id),
    ]
    for url in pages:
        content = admin_client.get(url).content.decode()
        assert voucher.code_hint in content, url
        assert voucher.code not in content, url
        assert voucher.grouped_code not in content, url


def test_journal_page_shows_that_its_postings_balance(admin_client, world):
    journal = Journal.objects.filter(kind=Journal.Kind.REDEMPTION).first()
    response = admin_client.get(admin_url(Journal, "change", journal.pk))
    assert "in pareggio (2 righe)" in response.content.decode()


def test_dashboard_renders_its_figures_in_bounded_queries(
    admin_client, world, django_assert_max_num_queries
):
    # The scan of the sales serves the shops and the categories; two small queries place
    # each shop under one category per call.
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    content = response.content.decode()
    for title in ["Buoni emessi", "Buoni attivi", "Speso nei negozi", "Negozi accreditati"]:
        assert title in content
    assert "Tentativi rifiutati oggi" in content
    kpis = {str(kpi["title"]): kpi["value"] for kpi in response.context["kpis"]}
    assert kpis["Buoni emessi"] == 1
    assert kpis["Tentativi rifiutati oggi"] == 1
    assert kpis["Speso nei negozi"] == "€ 15,00"
    assert 'data-type="bar"' in content
    assert "15.0" in response.context["chart_amounts"]


# --- lists stay cheap --------------------------------------------------------------------

# The most queries each list may take, whatever the number of rows on the page: session,
# user, the count, the page, and one per related list or filter that needs its choices.
CHANGELIST_QUERY_LIMITS = {
    "auth.Group": 5,
    "auth.User": 6,
    "core.Account": 6,  # one more when the balances are not in the cache
    "core.Contribution": 6,
    "core.Fund": 6,
    "core.Journal": 4,
    "core.Organization": 5,
    "core.PaymentBatch": 4,
    "core.Posting": 4,
    "merchants.DeviceKey": 5,
    "merchants.Merchant": 8,
    "merchants.Redemption": 5,
    "merchants.RefusedAttempt": 4,
    "merchants.Settlement": 5,
    "otp_static.StaticDevice": 5,
    "otp_totp.TOTPDevice": 5,
    "vouchers.Application": 6,
    "vouchers.Beneficiary": 5,
    "vouchers.IncomingTransfer": 7,
    "vouchers.InitiativeFunding": 5,
    "vouchers.ReimbursementClaim": 5,
    # Two more when the calls' figures are not in the cache (vouchers, redemptions per call).
    "vouchers.Initiative": 9,
    "vouchers.IssuanceRun": 6,
    "vouchers.ArchiveExport": 6,
    "vouchers.Notification": 5,
    "vouchers.SpendingCategory": 5,
    "vouchers.Voucher": 6,
}


def changelist_queries(client) -> dict[str, int]:
    counts = {}
    for model in registered_models():
        cache.clear()  # the figures some lists keep for a few minutes are computed each time
        with CaptureQueriesContext(connection) as queries:
            response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        counts[model._meta.label] = len(queries)
    return counts


def test_changelists_take_the_same_few_queries_with_fifty_rows(admin_client, town):
    for _ in range(5):
        add_row_everywhere(town=town)
    with_five = changelist_queries(admin_client)
    for _ in range(45):
        add_row_everywhere(town=town)
    assert Voucher.objects.count() == 50
    assert Redemption.objects.count() == 100
    with_fifty = changelist_queries(admin_client)

    assert with_fifty == with_five
    assert set(with_fifty) == set(CHANGELIST_QUERY_LIMITS), "a new admin needs a limit"
    over = {
        label: (count, CHANGELIST_QUERY_LIMITS[label])
        for label, count in with_fifty.items()
        if count > CHANGELIST_QUERY_LIMITS[label]
    }
    assert not over, over


def test_voucher_changelist_with_fifty_rows_is_bounded(
    admin_client, town, django_assert_max_num_queries
):
    initiative = factories.initiative(municipalities=[town], budget="5000.00")
    holders = [factories.beneficiary(municipality=town) for _ in range(50)]
    voucher_issue_bulk(initiative=initiative, beneficiaries=holders)
    with django_assert_max_num_queries(CHANGELIST_QUERY_LIMITS["vouchers.Voucher"]):
        response = admin_client.get(admin_url(Voucher, "changelist"))
    assert len(response.context["cl"].result_list) == 50


# --- vouchers ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_revoking_without_a_reason_shows_a_form_error_and_changes_nothing(
    admin_client, world, reason
):
    voucher = world["voucher"]
    budget = initiative_budget_available(initiative=voucher.initiative)
    url = reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk])

    response = admin_client.post(url, {"confirm": "yes", "reason": reason})

    assert response.status_code == 200
    assert "Indica il motivo" in response.content.decode()
    assert response.context["form"].errors["reason"]
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    assert voucher.balance == Decimal("85.00")
    assert initiative_budget_available(initiative=voucher.initiative) == budget
    assert not Journal.objects.filter(kind=Journal.Kind.VOUCHER_REVOKED).exists()


def test_revoking_with_a_reason_closes_the_voucher_and_returns_its_residual(admin_client, world):
    voucher = world["voucher"]
    budget = initiative_budget_available(initiative=voucher.initiative)
    url = reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk])

    response = admin_client.post(url, {"confirm": "yes", "reason": "Trasferito in altro comune"})

    assert response.status_code == 302
    assert response["Location"] == admin_url(Voucher, "change", voucher.pk)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REVOKED
    assert voucher.closed_reason == "Trasferito in altro comune"
    assert voucher.balance == Decimal("0.00")
    assert voucher_ledger_balance(voucher_id=voucher.pk) == Decimal("0.00")
    assert initiative_budget_available(initiative=voucher.initiative) == budget + Decimal("85.00")


def test_revoking_an_expired_voucher_is_a_form_error_not_a_crash(admin_client, world):
    voucher = world["voucher"]
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.EXPIRED)
    url = reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk])

    response = admin_client.post(url, {"confirm": "yes", "reason": "Errore"})

    assert response.status_code == 200
    assert "Il buono è scaduto" in response.content.decode()


def test_bulk_revoke_asks_for_a_reason_before_revoking(admin_client, world, town):
    second = factories.voucher(initiative=world["initiative"])
    selected = [world["voucher"].pk, second.pk]
    changelist = admin_url(Voucher, "changelist")
    chosen = {"action": "revoke_vouchers", "_selected_action": selected}

    asked = admin_client.post(changelist, {**chosen, "index": "0"})
    assert asked.status_code == 200
    assert "reason" in asked.context["form"].fields

    refused = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": ""})
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"]
    assert Voucher.objects.filter(status=Voucher.Status.REVOKED).count() == 0

    done = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": "Bando annullato"})
    assert done.status_code == 302
    assert Voucher.objects.filter(pk__in=selected, status=Voucher.Status.REVOKED).count() == 2


def test_expiring_due_vouchers_from_the_list(admin_client, world):
    voucher = world["voucher"]
    Voucher.objects.filter(pk=voucher.pk).update(
        valid_until=timezone.localdate() - timedelta(days=1)
    )
    url = reverse("admin:vouchers_voucher_expire_due")
    assert "Buoni da far scadere" in admin_client.get(url).content.decode()

    response = admin_client.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED


def test_issuing_vouchers_serves_each_resident_once(admin_client, town):
    initiative = factories.initiative(municipalities=[town], budget="300.00")
    served = factories.beneficiary(municipality=town)
    voucher_issue_bulk(initiative=initiative, beneficiaries=[served])
    waiting = [factories.beneficiary(municipality=town) for _ in range(2)]
    factories.beneficiary()  # lives elsewhere
    url = reverse("admin:vouchers_initiative_issue_residents_detail", args=[initiative.pk])

    page = admin_client.get(url)
    assert {str(label): value for label, value in page.context["summary"]}[
        "Beneficiari senza buono"
    ] == 2

    response = admin_client.post(url, {"confirm": "yes", "medium": Voucher.Medium.PRINTED})
    assert response.status_code == 302
    issued = Voucher.objects.filter(initiative=initiative)
    assert issued.count() == 3
    assert set(
        issued.filter(medium=Voucher.Medium.PRINTED).values_list("beneficiary", flat=True)
    ) == {b.pk for b in waiting}

    again = admin_client.post(url, {"confirm": "yes", "medium": "digital"}, follow=True)
    assert "tutti i residenti hanno già il loro buono" in again.content.decode()
    assert issued.count() == 3


def test_issuing_beyond_the_budget_is_an_error_message(admin_client, town):
    initiative = factories.initiative(municipalities=[town], budget="100.00")
    for _ in range(2):
        factories.beneficiary(municipality=town)
    url = reverse("admin:vouchers_initiative_issue_residents_detail", args=[initiative.pk])

    response = admin_client.post(url, {"confirm": "yes", "medium": "digital"}, follow=True)

    assert "Il budget del bando non basta" in response.content.decode()
    assert not Voucher.objects.filter(initiative=initiative).exists()


def test_assigning_more_budget_than_the_fund_holds_is_a_form_error(admin_client, town):
    initiative = factories.initiative(municipalities=[town], budget="100.00")
    url = reverse("admin:vouchers_initiative_assign_budget_detail", args=[initiative.pk])

    too_much = admin_client.post(url, {"confirm": "yes", "amount": "999999.00"})
    assert too_much.status_code == 200
    assert "Il fondo non ha abbastanza disponibilità" in too_much.content.decode()

    done = admin_client.post(url, {"confirm": "yes", "amount": "250.00"})
    assert done.status_code == 302
    assert initiative_budget_available(initiative=initiative) == Decimal("350.00")


# --- funds -------------------------------------------------------------------------------


def test_contribution_added_in_the_admin_is_recorded_with_its_journal(admin_client):
    fund = factories.fund(amount="0")
    funder = factories.funder()
    response = admin_client.post(
        admin_url(Contribution, "add"),
        {
            "fund": fund.pk,
            "funder": funder.pk,
            "amount": "1500.50",
            "received_on": timezone.localdate().strftime("%d/%m/%Y"),
            "document_reference": "Delibera 12/2026",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contribution = Contribution.objects.get(fund=fund)
    assert contribution.journal.kind == Journal.Kind.CONTRIBUTION
    assert fund_balance(fund_id=fund.pk) == Decimal("1500.50")


def test_contribution_from_an_agency_is_refused_in_the_form(admin_client):
    fund = factories.fund(amount="0")
    agency = fund.manager
    response = admin_client.post(
        admin_url(Contribution, "add"),
        {
            "fund": fund.pk,
            "funder": agency.pk,
            "amount": "10.00",
            "received_on": timezone.localdate().strftime("%d/%m/%Y"),
        },
    )
    assert response.status_code == 200
    assert "funder" in response.context["adminform"].form.errors
    assert fund_balance(fund_id=fund.pk) == Decimal("0.00")


# --- merchants ---------------------------------------------------------------------------


def test_device_key_is_shown_once_and_stored_only_as_its_hash(admin_client, world):
    shop = world["merchant"]
    url = reverse("admin:merchants_merchant_create_device_key", args=[shop.pk])
    before = set(DeviceKey.objects.values_list("pk", flat=True))

    response = admin_client.post(url, {"confirm": "yes", "name": "Tablet del banco"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw_key = response.context["raw_key"]
    assert raw_key.startswith("bc_") and len(raw_key) > 40
    content = response.content.decode()
    assert raw_key in content
    assert "Non verrà più mostrata" in content
    device = DeviceKey.objects.exclude(pk__in=before).get()
    assert device.name == "Tablet del banco"
    assert device.merchant == shop
    assert device.key_hash == hash_device_key(raw_key)
    assert raw_key not in {device.name, device.prefix, device.key_hash}
    merchant_page = admin_client.get(admin_url(Merchant, "change", shop.pk)).content.decode()
    assert raw_key not in merchant_page
    assert device.prefix in merchant_page


def test_device_key_needs_a_name(admin_client, world):
    shop = world["merchant"]
    count = DeviceKey.objects.count()
    url = reverse("admin:merchants_merchant_create_device_key", args=[shop.pk])

    response = admin_client.post(url, {"confirm": "yes", "name": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert DeviceKey.objects.count() == count


def test_revoking_a_device_key(admin_client, world):
    key = DeviceKey.objects.filter(merchant=world["merchant"]).get()
    url = reverse("admin:merchants_devicekey_revoke_detail", args=[key.pk])

    response = admin_client.post(url, {"confirm": "yes"})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_suspending_a_merchant_requires_a_reason(admin_client, world):
    shop = world["merchant"]
    changelist = admin_url(Merchant, "changelist")
    chosen = {"action": "suspend_merchants", "_selected_action": [shop.pk]}

    refused = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": ""})
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"]
    shop.refresh_from_db()
    assert shop.status == Merchant.Status.ACCREDITED

    done = admin_client.post(changelist, {**chosen, "confirm": "yes", "reason": "DURC scaduto"})
    assert done.status_code == 302
    shop.refresh_from_db()
    assert (shop.status, shop.status_reason) == (Merchant.Status.SUSPENDED, "DURC scaduto")


def test_accrediting_and_rejecting_merchants(admin_client):
    waiting = factories.merchant(status=Merchant.Status.REQUESTED)
    other = factories.merchant(status=Merchant.Status.REQUESTED)

    url = reverse("admin:merchants_merchant_accredit_detail", args=[waiting.pk])
    assert admin_client.post(url, {"confirm": "yes", "reason": ""}).status_code == 302
    changelist = admin_url(Merchant, "changelist")
    admin_client.post(
        changelist,
        {
            "action": "reject_merchants",
            "_selected_action": [other.pk],
            "confirm": "yes",
            "reason": "Fuori dal territorio",
        },
    )

    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.status == Merchant.Status.ACCREDITED
    assert (other.status, other.status_reason) == (
        Merchant.Status.REJECTED,
        "Fuori dal territorio",
    )


def test_merchant_form_shows_iban_and_vat_number_errors(admin_client):
    town = factories.municipality()
    category = factories.category()
    response = admin_client.post(
        admin_url(Merchant, "add"),
        {
            "name": "Alimentari Bianchi",
            "vat_number": "12345678901",
            "iban": "IT60X0542811101000000123450",
            "street": "Via Roma 1",
            "postal_code": "00100",
            "town": "Roma",
            "categories": [category.pk],
            "municipalities": [town.pk],
            "staff-TOTAL_FORMS": "0",
            "staff-INITIAL_FORMS": "0",
            "device_keys-TOTAL_FORMS": "0",
            "device_keys-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Partita IVA non valida" in str(errors["vat_number"])
    assert "IBAN non valido" in str(errors["iban"])
    assert not Merchant.objects.filter(name="Alimentari Bianchi").exists()


def test_redemption_list_finds_a_receipt_and_filters_by_merchant_and_day(admin_client, world):
    redemption = world["redemption"]
    changelist = admin_url(Redemption, "changelist")

    found = admin_client.get(changelist, {"q": redemption.receipt_number})
    assert list(found.context["cl"].result_list) == [redemption]

    today = timezone.localdate().strftime("%d/%m/%Y")
    filtered = admin_client.get(
        changelist,
        {
            "merchant__id__exact": world["merchant"].pk,
            "created_at_from": today,
            "created_at_to": today,
            "status__exact": Redemption.Status.CONFIRMED,
        },
    )
    assert len(filtered.context["cl"].result_list) == 2
    yesterday = (timezone.localdate() - timedelta(days=1)).strftime("%d/%m/%Y")
    none = admin_client.get(changelist, {"created_at_to": yesterday})
    assert len(none.context["cl"].result_list) == 0
    # The calendar's ends, typed by mistake: no midnight exists there, the list still opens.
    ends = admin_client.get(
        changelist, {"created_at_from": "01/01/0001", "created_at_to": "31/12/9999"}
    )
    assert ends.status_code == 200
    assert len(ends.context["cl"].result_list) == Redemption.objects.count() == 2
    before = admin_client.get(changelist, {"created_at_to": "01/01/0001"})
    assert before.status_code == 200 and len(before.context["cl"].result_list) == 0


def test_refused_attempts_filter_by_reason(admin_client, world):
    changelist = admin_url(RefusedAttempt, "changelist")
    expired = admin_client.get(changelist, {"reason": "voucher_expired"})
    assert len(expired.context["cl"].result_list) == 1
    other = admin_client.get(changelist, {"reason": "voucher_revoked"})
    assert len(other.context["cl"].result_list) == 0


def test_voucher_search_by_code_end_keeps_the_list_filters(admin_client, world):
    voucher = world["voucher"]
    changelist = admin_url(Voucher, "changelist")
    hint = voucher.code[-4:]

    found = admin_client.get(changelist, {"q": hint})
    assert voucher in found.context["cl"].result_list
    other_status = admin_client.get(
        changelist, {"q": hint, "status__exact": Voucher.Status.REVOKED}
    )
    assert list(other_status.context["cl"].result_list) == []


def test_searching_postings_with_text_does_not_crash(admin_client, world):
    response = admin_client.get(admin_url(Posting, "changelist"), {"q": "abc"})
    assert response.status_code == 200


def test_staff_who_may_only_look_cannot_revoke_or_create_keys(client, world, town):
    viewer = factories.user(is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_voucher", "view_merchant"])
    )
    # Of the same municipality as the voucher's holder and the shop: he may see them.
    Membership.objects.create(user=viewer, organization=town, role=Role.PROGRAMME_MANAGER)
    client.force_login(viewer)
    voucher, shop = world["voucher"], world["merchant"]

    assert client.get(admin_url(Voucher, "change", voucher.pk)).status_code == 200
    revoke = reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk])
    assert client.post(revoke, {"confirm": "yes", "reason": "x"}).status_code == 403
    create_key = reverse("admin:merchants_merchant_create_device_key", args=[shop.pk])
    assert client.post(create_key, {"confirm": "yes", "name": "x"}).status_code == 403
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
    assert DeviceKey.objects.filter(merchant=shop).count() == 1


def test_the_history_says_who_changed_a_record_or_that_a_procedure_did(admin_client, town):
    from django.contrib.auth import get_user_model

    initiative = factories.initiative(municipalities=[town])
    initiative.title = "Bando rinominato da una procedura"
    initiative.save()  # no request, no user: as a task would
    person = get_user_model().objects.get(username="admin")
    history = initiative.history.first()
    history.history_user = person
    history.save()
    initiative.title = "Bando rinominato di nuovo"
    initiative.save()

    page = admin_client.get(admin_url(Initiative, "history", initiative.pk)).content.decode()

    assert "procedura automatica" in page
    assert reverse("admin:auth_user_change", args=[person.pk]) in page
    cells = [
        cell.split("</td>")[0].strip() for cell in page.split('<td class="whitespace-nowrap">')
    ]
    assert "None" not in cells


def test_revoking_a_device_key_records_who_revoked_it(admin_client, world):
    from django.contrib.auth import get_user_model

    key = DeviceKey.objects.filter(merchant=world["merchant"]).first()
    url = reverse("admin:merchants_devicekey_revoke_detail", args=[key.pk])
    assert admin_client.post(url, {"confirm": "yes"}).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.revoked_by == get_user_model().objects.get(username="admin")
    page = admin_client.get(admin_url(DeviceKey, "change", key.pk)).content.decode()
    assert "Revocata da" in page or "revocata da" in page
