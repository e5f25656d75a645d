"""The payment batches and settlements in the admin: each button calls one service."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Organization, PaymentBatch, PaymentLine, Role
from core.roles import membership_grant
from core.sepa import validate_pain001
from merchants.models import Merchant, Settlement
from tests import factories
from tests.config.test_admin_pages import add_row_everywhere, admin_url, redeem
from tests.core.test_sepa import camt054, transfer_entry

pytestmark = pytest.mark.django_db

CONFIRM = {"confirm": "yes", "apply": "1"}


def staff(role: str, organization: Organization, **extra):
    person = factories.user(is_staff=True, **extra)
    membership_grant(user=person, organization=organization, role=role)
    return person


@pytest.fixture
def town():
    return factories.municipality()


@pytest.fixture
def agency():
    return Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")


@pytest.fixture
def world(town):
    return add_row_everywhere(town=town)


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def release(client, batch):
    return client.post(url("core_paymentbatch_release_detail", batch.pk), CONFIRM)


def export(client, batch):
    return client.post(url("core_paymentbatch_export_detail", batch.pk), CONFIRM)


# --- four eyes ---------------------------------------------------------------------------


def test_the_preparer_cannot_release_the_batch_and_nothing_changes(client, world):
    batch = world["batch"]
    preparer = batch.prepared_by
    preparer.is_staff = preparer.is_superuser = True
    preparer.save()
    client.force_login(preparer)

    page = client.get(url("core_paymentbatch_release_detail", batch.pk))
    assert page.status_code == 200
    assert "quattro occhi" in page.content.decode()

    response = release(client, batch)
    assert response.status_code == 302
    assert response["Location"] == admin_url(PaymentBatch, "change", batch.pk)
    assert any("persona diversa" in text for text in texts(response))
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED
    assert batch.released_by is None


def test_another_agency_admin_releases_the_batch(client, world, agency):
    batch = world["batch"]
    releaser = staff(Role.AGENCY_ADMIN, agency)
    client.force_login(releaser)
    assert client.get(admin_url(PaymentBatch, "changelist")).status_code == 200

    response = release(client, batch)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.RELEASED
    assert batch.released_by == releaser


def test_the_release_page_only_asks_and_changes_nothing(admin_client, world):
    batch = world["batch"]
    response = admin_client.get(url("core_paymentbatch_release_detail", batch.pk))
    assert response.status_code == 200
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED


# --- export, payment, cancellation ------------------------------------------------------


def test_export_is_refused_before_release(admin_client, world):
    batch = world["batch"]
    response = export(admin_client, batch)
    assert response.status_code == 403  # the button is only for released batches
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED


def test_export_downloads_a_valid_pain001_file_and_marks_the_batch_exported(admin_client, world):
    batch = world["batch"]
    release(admin_client, batch)
    response = export(admin_client, batch)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert f"distinta-{batch.message_id}.xml" in response["Content-Disposition"]
    validate_pain001(response.content)
    assert batch.message_id.encode() in response.content
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED

    again = export(admin_client, batch)
    assert again.content == response.content


def test_mark_paid_from_the_admin(admin_client, world):
    batch = world["batch"]
    release(admin_client, batch)
    export(admin_client, batch)
    response = admin_client.post(url("core_paymentbatch_mark_paid_detail", batch.pk), CONFIRM)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PAID
    assert not batch.lines.filter(paid_at=None).exists()


def test_cancel_needs_a_reason(admin_client, world):
    batch = world["batch"]
    cancel = url("core_paymentbatch_cancel_detail", batch.pk)
    response = admin_client.post(cancel, {**CONFIRM, "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED

    response = admin_client.post(cancel, {**CONFIRM, "reason": "IBAN da verificare"})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.CANCELLED
    assert batch.cancel_reason == "IBAN da verificare"


def test_camt054_upload_marks_the_batch_paid_and_reports_unknown_ids(admin_client, world):
    batch = world["batch"]
    release(admin_client, batch)
    export(admin_client, batch)
    line = batch.lines.get()
    xml = camt054(
        transfer_entry(line, message_id=batch.message_id),
        transfer_entry(PaymentLine(end_to_end_id="SCONOSCIUTO-1", amount=line.amount)),
    )
    upload = url("core_paymentbatch_import_camt054")
    assert admin_client.get(upload).status_code == 200

    response = admin_client.post(
        upload,
        {**CONFIRM, "file": SimpleUploadedFile("camt.xml", xml, content_type="application/xml")},
    )
    assert response.status_code == 302
    messages = texts(response)
    assert any("segnati come pagati: 1" in text for text in messages), messages
    assert any("SCONOSCIUTO-1" in text for text in messages), messages
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PAID


def test_a_file_that_is_not_camt054_is_a_form_error(admin_client, world):
    response = admin_client.post(
        url("core_paymentbatch_import_camt054"),
        {**CONFIRM, "file": SimpleUploadedFile("x.xml", b"<nope/>")},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"]


# --- settlements -------------------------------------------------------------------------


def test_prepare_batch_from_settlements_redirects_to_the_batch(admin_client, world):
    shop, cashier, voucher = world["merchant"], world["cashier"], world["voucher"]
    redeem(voucher=voucher, shop=shop, person=cashier, amount="2.00")
    list_url = admin_url(Settlement, "changelist")
    response = admin_client.post(url("merchants_settlement_settle_all"), CONFIRM)
    assert response.status_code == 302
    settlement = Settlement.objects.filter(payment_line=None).get()
    assert settlement.total == 7  # the 5.00 left unsettled and the new 2.00

    page = admin_client.post(
        list_url, {"action": "prepare_payment_batch", "_selected_action": [settlement.pk]}
    )
    assert page.status_code == 200
    assert "Prepara la distinta" in page.content.decode()
    response = admin_client.post(
        list_url,
        {**CONFIRM, "action": "prepare_payment_batch", "_selected_action": [settlement.pk]},
    )
    settlement.refresh_from_db()
    batch = settlement.payment_line.batch
    assert response.status_code == 302
    assert response["Location"] == admin_url(PaymentBatch, "change", batch.pk)
    assert batch.total == settlement.total

    # Once in a batch, a settlement is not paid twice.
    response = admin_client.post(
        list_url,
        {**CONFIRM, "action": "prepare_payment_batch", "_selected_action": [settlement.pk]},
    )
    assert any("già in una distinta" in text for text in texts(response))
    assert PaymentBatch.objects.count() == 2


def test_settle_now_from_the_merchant_list(admin_client, world):
    shop = world["merchant"]
    response = admin_client.post(
        admin_url(Merchant, "changelist"),
        {**CONFIRM, "action": "settle_merchants", "_selected_action": [shop.pk]},
    )
    assert response.status_code == 302
    assert Settlement.objects.filter(merchant=shop).count() == 2
    assert any("1 liquidazione creata" in text for text in texts(response))


def test_statement_pdf_downloads(admin_client, world):
    response = admin_client.get(url("merchants_settlement_statement_pdf", world["settlement"].pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


# --- scoping -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.DESK_OPERATOR, Role.PROGRAMME_MANAGER])
def test_municipal_staff_see_no_batch_and_no_settlement(client, world, town, role):
    person = staff(role, town)
    # Even with the right to look at them, they are agency matters.
    person.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_paymentbatch", "view_settlement"])
    )
    client.force_login(person)
    batch, settlement = world["batch"], world["settlement"]

    response = client.get(admin_url(PaymentBatch, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    assert client.get(admin_url(PaymentBatch, "change", batch.pk)).status_code == 404
    assert client.post(url("core_paymentbatch_release_detail", batch.pk), CONFIRM).status_code in (
        403,
        404,
    )
    response = client.get(admin_url(Settlement, "changelist"))
    assert response.context["cl"].result_count == 0
    assert client.get(admin_url(Settlement, "change", settlement.pk)).status_code == 404
    pdf = client.get(url("merchants_settlement_statement_pdf", settlement.pk))
    assert pdf.status_code == 404
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED
