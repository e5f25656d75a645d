"""A call run from the admin, as a municipal office does: every phase through its buttons."""

import io
from decimal import Decimal

import pypdfium2
import pytest
from django.contrib.auth.hashers import check_password
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import Organization, Role
from core.roles import membership_grant
from tests import factories
from tests.config.test_admin_pages import (
    add_ranked_application,
    admin_url,
    applicant_in,
    open_call_in,
)
from tests.vouchers.test_programme import fiscal_code
from vouchers.models import (
    Application,
    ApplicationDocument,
    Beneficiary,
    Decision,
    Initiative,
    IssuanceRun,
    Notification,
    Voucher,
)
from vouchers.services.access import access_code_login
from vouchers.services.applications import application_approve, application_submit
from vouchers.services.imports import COLUMNS
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import initiative_issue
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def staff(role: str, organization: Organization, *more_roles: str):
    person = factories.user()
    for each in (role, *more_roles):
        membership_grant(user=person, organization=organization, role=each)
    return person


def logged_in(client, person):
    client.force_login(person)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def intake_data(initiative: Initiative, n: int, **overrides) -> dict:
    code, birth, sex = fiscal_code(n)
    data = {
        "initiative": initiative.pk,
        "fiscal_code": code,
        "first_name": "Lucia",
        "last_name": f"Neri {n}",
        "birth_date": birth.strftime("%d/%m/%Y"),
        "sex": sex,
        "municipality": initiative.municipalities.first().pk,
        "street": "Via Garibaldi 3",
        "postal_code": "00100",
        "email": "",
        "phone": "",
        "isee": "4200,00",
        "dsu_protocol": "INPS-ISEE-2026-0001",
        "iban": "",
    }
    for index in range(6):
        for name in ["fiscal_code", "first_name", "last_name", "birth_date"]:
            data[f"member_{index}_{name}"] = ""
    data.update(overrides)
    return data


def intake(client, initiative, n, **overrides):
    return client.post(
        reverse("admin:vouchers_application_add"), intake_data(initiative, n, **overrides)
    )


@pytest.fixture
def town():
    return factories.municipality(name="Comune di Prova")


@pytest.fixture
def call(town):
    return open_call_in(town)


@pytest.fixture
def desk(town):
    return staff(Role.DESK_OPERATOR, town)


@pytest.fixture
def validator(town):
    return staff(Role.VALIDATOR, town)


# --- desk intake -------------------------------------------------------------------------


def test_desk_intake_creates_an_application_with_its_protocol_number(client, call, desk):
    logged_in(client, desk)
    choose = client.get(reverse("admin:vouchers_application_add"))
    assert call.title in choose.content.decode()

    page = client.get(reverse("admin:vouchers_application_add"), {"initiative": call.pk})
    assert page.status_code == 200
    member_code, member_birth, _sex = fiscal_code(900)
    response = client.post(
        reverse("admin:vouchers_application_add"),
        {
            **intake_data(
                call,
                1,
                member_0_fiscal_code=member_code,
                member_0_first_name="Paolo",
                member_0_last_name="Neri",
                member_0_birth_date=member_birth.isoformat(),
                member_0_is_child="on",
            ),
            "attachments": [
                SimpleUploadedFile("isee.pdf", PDF, content_type="application/pdf"),
                SimpleUploadedFile("documento.pdf", PDF, content_type="application/pdf"),
            ],
        },
    )

    application = Application.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == admin_url(Application, "change", application.pk)
    assert application.channel == Application.Channel.DESK
    assert application.entered_by == desk
    assert application.tutor is None
    assert application.isee == Decimal("4200.00")
    assert application.members.get().is_child
    assert application.documents.count() == 2
    detail = client.get(response["Location"])
    content = detail.content.decode()
    assert application.protocol_number in content
    assert f"Domanda registrata con protocollo {application.protocol_number}" in content
    assert "Paolo" in content and "isee.pdf" in content


def test_desk_intake_shows_a_form_error_for_a_wrong_fiscal_code(client, call, desk):
    logged_in(client, desk)

    invalid = intake(client, call, 1, fiscal_code="RSSMRA80A01H501X")
    assert invalid.status_code == 200
    assert "Codice fiscale non valido" in str(invalid.context["form"].errors["fiscal_code"])

    code, birth, _sex = fiscal_code(2)
    mismatch = intake(client, call, 2, birth_date="02/01/1980")
    assert "non corrisponde" in str(mismatch.context["form"].errors["fiscal_code"])
    assert not Application.objects.exists()


def test_desk_intake_shows_a_form_error_for_a_duplicate(client, call, desk):
    logged_in(client, desk)
    assert intake(client, call, 1).status_code == 302
    first = Application.objects.get()

    again = intake(client, call, 1, first_name="Lucia Maria")

    assert again.status_code == 200
    errors = str(again.context["form"].errors["fiscal_code"])
    assert "ha già una domanda" in errors and first.protocol_number in errors
    assert Application.objects.count() == 1


def test_desk_intake_refuses_missing_declarations_and_bad_attachments(client, town, desk):
    call = open_call_in(town)
    call.declarations = "Dichiaro di risiedere nel Comune\nDichiaro il vero"
    call.save()
    logged_in(client, desk)

    missing = intake(client, call, 1, declarations=["Dichiaro il vero"])
    assert "Mancano dichiarazioni" in str(missing.context["form"].errors["declarations"])

    text = SimpleUploadedFile("nota.txt", b"hello", content_type="text/plain")
    refused = intake(client, call, 1, declarations=call.declaration_list, attachments=[text])
    assert "Sono accettati solo file PDF" in str(refused.context["form"].errors["attachments"])
    assert not Application.objects.exists()

    done = intake(client, call, 1, declarations=call.declaration_list)
    assert done.status_code == 302
    assert Application.objects.get().declarations_accepted == call.declaration_list


def receipt_text(client, application) -> str:
    response = client.get(
        reverse("admin:vouchers_application_receipt_detail", args=[application.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    document = pypdfium2.PdfDocument(response.content)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    return " ".join(text.split())


def test_desk_registers_an_applicant_over_the_income_limit_and_refuses_him(client, call, desk):
    Initiative.objects.filter(pk=call.pk).update(max_isee=Decimal("10000.00"))
    logged_in(client, desk)

    first = intake(client, call, 1, isee="25000,00")
    assert first.status_code == 200
    assert "supera il massimo" in str(first.context["form"].errors["isee"])
    assert 'id="intake-refusal"' in first.content.decode()
    assert not Application.objects.exists()

    confirmed = intake(client, call, 1, isee="25000,00", register_ineligible="on")
    assert confirmed.status_code == 302
    application = Application.objects.get()
    assert application.status == Application.Status.REJECTED
    assert application.isee == Decimal("25000.00")
    decision = application.decisions.get()
    assert decision.action == Decision.Action.REJECT
    assert decision.decided_by is None
    assert "supera il massimo del bando" in decision.reason
    page = client.get(confirmed["Location"]).content.decode()
    assert f"protocollo {application.protocol_number} e respinta" in page
    assert reverse("admin:vouchers_application_receipt_detail", args=[application.pk]) in page

    receipt = receipt_text(client, application)
    assert application.protocol_number in receipt
    assert call.title in receipt
    assert "Lucia Neri 1" in receipt
    assert "respinta. Motivazione: Requisiti del bando non soddisfatti" in receipt
    assert "supera il massimo del bando" in receipt
    assert "entro 60 giorni" in receipt and "Responsabile del procedimento" in receipt

    from vouchers.services.notifications import initiative_notify_outcomes

    assert initiative_notify_outcomes(initiative=call) == {"email": 0, "sms": 0, "letter": 1}
    letter = Notification.objects.get()
    assert letter.outcome == "rejected" and "supera il massimo del bando" in letter.body


def test_desk_receipt_says_what_happens_next_and_how_the_outcome_arrives(client, call, desk):
    logged_in(client, desk)
    assert intake(client, call, 1).status_code == 302
    application = Application.objects.get()
    receipt = receipt_text(client, application)
    assert "Ricevuta di presentazione della domanda" in receipt
    assert application.protocol_number in receipt and call.title in receipt
    assert "L'esito le sarà comunicato con una lettera all'indirizzo Via Garibaldi 3" in receipt


def test_desk_intake_requires_the_address_the_outcome_letter_goes_to(client, call, desk):
    logged_in(client, desk)
    page = client.get(reverse("admin:vouchers_application_add"), {"initiative": call.pk})
    assert "Indirizzo e CAP sono obbligatori" in page.content.decode()

    response = intake(client, call, 1, street="", postal_code="")
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"street", "postal_code"}
    assert not Application.objects.exists()


def test_desk_intake_offers_only_the_users_municipalities(client, call, desk):
    other = factories.municipality(name="Comune Vicino")
    call.municipalities.add(other)
    logged_in(client, desk)

    page = client.get(reverse("admin:vouchers_application_add"), {"initiative": call.pk})
    assert list(page.context["form"].fields["municipality"].queryset) == [
        call.municipalities.exclude(pk=other.pk).get()
    ]
    response = intake(client, call, 1, municipality=other.pk)
    assert "municipality" in response.context["form"].errors
    assert not Application.objects.exists()


def test_a_tutor_enters_his_cases_through_the_tutor_channel(client, call):
    tutor = staff(Role.TUTOR, Organization.objects.create(kind="third_sector", name="Caritas"))
    logged_in(client, tutor)

    response = intake(client, call, 1)

    application = Application.objects.get()
    assert response.status_code == 302
    assert (application.channel, application.tutor, application.entered_by) == (
        Application.Channel.TUTOR,
        tutor,
        tutor,
    )


# --- validation --------------------------------------------------------------------------


def bulk(client, name: str, applications, **data):
    return client.post(
        admin_url(Application, "changelist"),
        {
            "action": name,
            "_selected_action": [a.pk for a in applications],
            "confirm": "yes",
            **data,
        },
    )


def test_four_eyes_the_desk_operator_who_entered_it_cannot_approve_it(client, call, town):
    both = staff(Role.DESK_OPERATOR, town, Role.VALIDATOR)
    logged_in(client, both)
    assert intake(client, call, 1).status_code == 302
    application = Application.objects.get()

    response = bulk(client, "approve_applications", [application], reason="Requisiti verificati")

    assert response.status_code == 302
    text = " ".join(messages_of(response))
    assert application.protocol_number in text
    assert "Non puoi decidere una domanda che hai inserito tu" in text
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert not Decision.objects.exists()
    page = client.get(admin_url(Application, "change", application.pk)).content.decode()
    assert reverse("admin:vouchers_application_approve_detail", args=[application.pk]) not in page

    other = staff(Role.VALIDATOR, town)
    logged_in(client, other)
    page = client.get(admin_url(Application, "change", application.pk)).content.decode()
    assert reverse("admin:vouchers_application_approve_detail", args=[application.pk]) in page
    assert bulk(client, "approve_applications", [application], reason="Ok").status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert application.decisions.get().decided_by == other


def test_decisions_need_a_reason_and_are_kept_with_who_and_when(client, call, desk, validator):
    logged_in(client, desk)
    intake(client, call, 1)
    application = Application.objects.get()
    logged_in(client, validator)
    queue = client.get(admin_url(Application, "changelist"), {"coda": "da-istruire"})
    assert list(queue.context["cl"].result_list) == [application]

    url = reverse("admin:vouchers_application_request_info_detail", args=[application.pk])
    refused = client.post(url, {"confirm": "yes", "reason": ""})
    assert refused.context["form"].errors["reason"]
    assert client.post(url, {"confirm": "yes", "reason": "Manca l'ISEE"}).status_code == 302

    logged_in(client, desk)
    answer = reverse("admin:vouchers_application_answer_detail", args=[application.pk])
    assert client.post(answer, {"confirm": "yes", "reason": "ISEE consegnato"}).status_code == 302
    document = reverse("admin:vouchers_application_add_document_detail", args=[application.pk])
    upload = SimpleUploadedFile("isee-2026.pdf", PDF, content_type="application/pdf")
    added = client.post(document, {"confirm": "yes", "title": "ISEE 2026", "file": upload})
    assert added.status_code == 302
    logged_in(client, validator)
    approve = reverse("admin:vouchers_application_approve_detail", args=[application.pk])
    assert client.post(approve, {"confirm": "yes", "reason": "Requisiti ok"}).status_code == 302

    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert [(d.action, d.decided_by) for d in application.decisions.all()] == [
        ("request_info", validator),
        ("answer", desk),
        ("approve", validator),
    ]
    page = client.get(admin_url(Application, "change", application.pk)).content.decode()
    assert "Manca l&#x27;ISEE" in page and "ISEE consegnato" in page and "ISEE 2026" in page
    doc = ApplicationDocument.objects.get(title="ISEE 2026")
    download = client.get(
        reverse("admin:vouchers_application_document", args=[application.pk, doc.pk])
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF


def test_withdrawing_from_the_desk_and_rejecting_from_the_queue(client, call, desk, validator):
    logged_in(client, desk)
    intake(client, call, 1)
    intake(client, call, 2)
    first, second = Application.objects.order_by("pk")
    response = bulk(client, "withdraw_applications", [first], reason="Rinuncia")
    assert response.status_code == 302
    logged_in(client, validator)
    bulk(client, "reject_applications", [first, second], reason="ISEE oltre soglia")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Application.Status.WITHDRAWN
    assert second.status == Application.Status.REJECTED


def test_only_validators_may_decide(client, call, desk):
    logged_in(client, desk)
    intake(client, call, 1)
    application = Application.objects.get()
    url = reverse("admin:vouchers_application_approve_detail", args=[application.pk])
    assert client.post(url, {"confirm": "yes", "reason": "ok"}).status_code == 403
    changelist = client.get(admin_url(Application, "changelist"))
    actions = [name for name, _label in changelist.context["action_form"].fields["action"].choices]
    assert "approve_applications" not in actions
    assert "withdraw_applications" in actions


# --- the life of a call ------------------------------------------------------------------


def step(client, name: str, initiative: Initiative, **data):
    url = reverse(f"admin:vouchers_initiative_{name}", args=[initiative.pk])
    return client.post(url, {"confirm": "yes", **data})


def test_a_small_call_from_publication_to_printed_vouchers(
    client, town, desk, validator, django_capture_on_commit_callbacks, mailoutbox
):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    call = open_call_in(town)
    Initiative.objects.filter(pk=call.pk).update(status=Initiative.Status.DRAFT)

    logged_in(client, manager)
    page = client.get(admin_url(Initiative, "change", call.pk)).content.decode()
    assert reverse("admin:vouchers_initiative_publish_detail", args=[call.pk]) in page
    assert reverse("admin:vouchers_initiative_rank_detail", args=[call.pk]) not in page
    assert step(client, "publish_detail", call).status_code == 302
    call.refresh_from_db()
    assert call.status == Initiative.Status.PUBLISHED

    logged_in(client, desk)
    intake(client, call, 1, email="lucia@example.org")  # told by e-mail
    intake(client, call, 2)  # no contacts: a letter
    intake(client, call, 3, isee="9000,00")
    intake(client, call, 4, isee="9500,00")  # beyond the €300 budget: waiting list
    assert Application.objects.count() == 4

    logged_in(client, validator)
    bulk(client, "approve_applications", Application.objects.all(), reason="Requisiti ok")

    logged_in(client, manager)
    assert step(client, "close_detail", call).status_code == 302
    ranked = step(client, "rank_detail", call)
    assert "3 domande finanziate" in " ".join(messages_of(ranked))
    call.refresh_from_db()
    assert call.status == Initiative.Status.RANKED

    with django_capture_on_commit_callbacks(execute=True):
        issued = step(client, "issue_run_detail", call)
    run = IssuanceRun.objects.get(initiative=call)
    assert issued["Location"] == admin_url(IssuanceRun, "change", run.pk)
    assert (run.status, run.done, run.total, run.vouchers_issued) == ("done", 3, 3, 3)
    run_page = client.get(issued["Location"]).content.decode()
    assert "3/3 · 100%" in run_page
    call_page = client.get(admin_url(Initiative, "change", call.pk)).content.decode()
    assert admin_url(IssuanceRun, "change", run.pk) in call_page
    call.refresh_from_db()
    assert call.status == Initiative.Status.ISSUED
    assert Voucher.objects.filter(initiative=call).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        told = step(client, "notify_detail", call)
    assert "1 e-mail, 0 SMS, 3 lettere da stampare" in " ".join(messages_of(told))
    assert len(mailoutbox) == 1

    logged_in(client, desk)
    letters = step(client, "letters_detail", call)
    assert letters["Content-Type"] == "application/pdf"
    assert letters.content.startswith(b"%PDF")
    assert not Notification.objects.filter(status=Notification.Status.TO_PRINT).exists()
    assert Notification.objects.filter(status=Notification.Status.PRINTED).count() == 3

    printed = step(client, "print_vouchers_detail", call, which="without_app")
    assert printed["Content-Type"] == "application/pdf"
    assert printed.content.startswith(b"%PDF")
    selected = client.post(
        admin_url(Voucher, "changelist"),
        {
            "action": "print_vouchers",
            "_selected_action": list(Voucher.objects.values_list("pk", flat=True)[:1]),
        },
    )
    assert selected["Content-Type"] == "application/pdf"

    logged_in(client, manager)
    assert step(client, "archive_detail", call).status_code == 302
    call.refresh_from_db()
    assert call.status == Initiative.Status.ARCHIVED


def test_scorrimento_is_proposed_by_one_manager_and_approved_by_another(
    client, town, django_capture_on_commit_callbacks, mailoutbox
):
    call = open_call_in(town)  # €300: three funded
    validator = staff(Role.VALIDATOR, town)
    for n in range(1, 5):
        application = application_submit(
            initiative=call,
            data=applicant_in(town, isee=f"{1000 * n}.00", email=f"persona{n}@example.org"),
            channel=Application.Channel.ONLINE,
        )
        application_approve(application=application, reason="ok", by=validator)
    initiative_close(initiative=call)
    initiative_rank(initiative=call)
    waiting = Application.objects.get(rank=4)
    first, second = staff(Role.PROGRAMME_MANAGER, town), staff(Role.PROGRAMME_MANAGER, town)

    logged_in(client, first)
    page = client.get(admin_url(Initiative, "change", call.pk)).content.decode()
    assert reverse("admin:vouchers_initiative_waiting_list_propose_detail", args=[call.pk]) in page
    nothing = step(client, "waiting_list_propose_detail", call)
    assert "Nessuna domanda in lista d'attesa si può finanziare" in " ".join(messages_of(nothing))

    added = step(client, "assign_budget_detail", call, amount="100.00")
    assert "proponi lo scorrimento" in " ".join(messages_of(added))
    form = client.get(
        reverse("admin:vouchers_initiative_waiting_list_propose_detail", args=[call.pk])
    )
    assert waiting.protocol_number in form.content.decode()
    proposed = step(client, "waiting_list_propose_detail", call)
    assert "serve l'approvazione di un'altra persona" in " ".join(messages_of(proposed))
    refused = step(client, "waiting_list_approve_detail", call)
    assert "diversa da chi l'ha proposto" in " ".join(messages_of(refused))
    waiting.refresh_from_db()
    assert waiting.outcome == Application.Outcome.WAITING

    logged_in(client, second)
    review = client.get(
        reverse("admin:vouchers_initiative_waiting_list_approve_detail", args=[call.pk])
    ).content.decode()
    assert waiting.protocol_number in review and first.username in review
    with django_capture_on_commit_callbacks(execute=True):
        approved = step(client, "waiting_list_approve_detail", call)
    assert "1 domande finanziate" in " ".join(messages_of(approved))
    waiting.refresh_from_db()
    assert waiting.outcome == Application.Outcome.FUNDED
    assert [m.to[0] for m in mailoutbox] == ["persona4@example.org"]


def test_revoking_a_voucher_of_a_call_with_a_waiting_list_points_to_the_scorrimento(admin_client):
    from tests.vouchers.test_programme import run_to_ranking

    call, _applications = run_to_ranking(4)
    initiative_issue(initiative=call)
    voucher = Application.objects.get(rank=1).vouchers.get()
    response = admin_client.post(
        reverse("admin:vouchers_voucher_revoke_detail", args=[voucher.pk]),
        {"confirm": "yes", "reason": "Dichiarazione non veritiera"},
    )
    assert response.status_code == 302
    told = " ".join(messages_of(response))
    assert "Buono revocato." in told
    assert f"{call}: Ci sono domande in lista d'attesa: proponi lo scorrimento" in told


def test_lifecycle_errors_become_messages_and_change_nothing(client, town):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    call = open_call_in(town)
    response = step(client, "rank_detail", call)
    assert "questa operazione non è possibile ora" in " ".join(messages_of(response))
    call.refresh_from_db()
    assert call.status == Initiative.Status.PUBLISHED

    bulk_response = client.post(
        admin_url(Initiative, "changelist"),
        {"action": "close_initiatives", "_selected_action": [call.pk], "confirm": "yes"},
    )
    assert bulk_response.status_code == 302
    call.refresh_from_db()
    assert call.status == Initiative.Status.CLOSED


def test_the_status_of_a_call_is_read_only_in_its_form(client, town):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    call = draft_call_in(town)
    page = client.get(admin_url(Initiative, "change", call.pk))
    form = page.context["adminform"].form
    assert "status" not in form.fields
    assert "municipalities" in form.fields
    assert list(form.fields["municipalities"].queryset) == [town]


def test_issuing_to_residents_is_only_for_calls_without_applications(admin_client, town):
    call = open_call_in(town)

    application_submit(initiative=call, data=applicant_in(town), channel="desk")
    factories.beneficiary(municipality=town)
    url = reverse("admin:vouchers_initiative_issue_residents_detail", args=[call.pk])
    response = admin_client.post(url, {"confirm": "yes", "medium": "digital"}, follow=True)
    assert "i buoni si emettono dalla graduatoria" in response.content.decode()
    assert not Voucher.objects.exists()


# --- import of a backlog -----------------------------------------------------------------


def csv_file(initiative, rows: list[dict], name: str = "domande.csv"):
    lines = [";".join(COLUMNS)]
    for row in rows:
        lines.append(";".join(row.get(column, "") for column in COLUMNS))
    return SimpleUploadedFile(name, "\n".join(lines).encode(), content_type="text/csv")


def import_row(initiative, n, **overrides) -> dict:
    code, birth, sex = fiscal_code(n)
    town = initiative.municipalities.order_by("pk").first()
    row = {
        "codice_fiscale": code,
        "nome": "Mario",
        "cognome": f"Bianchi {n}",
        "data_nascita": birth.strftime("%d/%m/%Y"),
        "sesso": sex,
        "comune_istat": town.istat_code,
        "isee": "3000,00",
        "dichiarazioni": "sì",
    }
    row.update(overrides)
    return row


def test_importing_a_good_csv_imports_every_row(client, call, desk):
    logged_in(client, desk)
    url = reverse("admin:vouchers_initiative_import_applications_detail", args=[call.pk])
    assert client.get(url).status_code == 200
    template = client.get(reverse("admin:vouchers_initiative_import_template"))
    assert template.content.decode().strip() == ";".join(COLUMNS)

    response = client.post(
        url, {"file": csv_file(call, [import_row(call, 1), import_row(call, 2)])}
    )

    assert response.status_code == 302
    assert "Importate 2 domande" in " ".join(messages_of(response))
    assert set(Application.objects.values_list("entered_by", "channel")) == {(desk.pk, "desk")}


def test_importing_a_bad_csv_shows_the_rows_and_imports_nothing(client, call, desk):
    logged_in(client, desk)
    url = reverse("admin:vouchers_initiative_import_applications_detail", args=[call.pk])
    rows = [
        import_row(call, 1),
        import_row(call, 2, codice_fiscale="RSSMRA80A01H501X"),
        import_row(call, 3, data_nascita="31/02/1980"),
    ]

    response = client.post(url, {"file": csv_file(call, rows)})

    assert response.status_code == 200
    table = response.context["errors_table"]
    assert [row[0] for row in table["rows"]] == [3, 4]
    content = response.content.decode()
    assert "Codice fiscale non valido" in content
    assert not Application.objects.exists()
    assert "nessuna domanda importata" in " ".join(messages_of(response))


def test_importing_rows_of_another_municipality_imports_nothing(client, call, desk):
    other = factories.municipality()
    call.municipalities.add(other)
    logged_in(client, desk)
    url = reverse("admin:vouchers_initiative_import_applications_detail", args=[call.pk])
    rows = [import_row(call, 1, comune_istat=other.istat_code)]
    response = client.post(url, {"file": csv_file(call, rows)})
    assert "non è un comune in cui lavori" in response.content.decode()
    assert not Application.objects.exists()


def test_importing_an_xlsx_file(client, call, desk):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    row = import_row(call, 7)
    sheet.append([row.get(column, "") for column in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    logged_in(client, desk)
    url = reverse("admin:vouchers_initiative_import_applications_detail", args=[call.pk])
    upload = SimpleUploadedFile("domande.xlsx", buffer.getvalue())
    assert client.post(url, {"file": upload}).status_code == 302
    assert Application.objects.count() == 1


# --- beneficiaries and outcomes ----------------------------------------------------------


def test_access_code_is_shown_once_and_lets_the_beneficiary_in(client, town, desk):
    holder = factories.beneficiary(municipality=town)
    logged_in(client, desk)
    url = reverse("admin:vouchers_beneficiary_access_code_issue_detail", args=[holder.pk])
    assert "Sarà mostrato una sola volta" in client.get(url).content.decode()

    response = client.post(url, {"confirm": "yes"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    code = response.context["access_code"]
    assert code in response.content.decode()
    holder.refresh_from_db()
    assert check_password(code.replace("-", ""), holder.access_code_hash)
    assert access_code_login(fiscal_code=holder.fiscal_code, access_code=code) == holder
    page = client.get(admin_url(Beneficiary, "change", holder.pk)).content.decode()
    assert code not in page


def test_notification_list_filters_by_channel_and_prints_selected_letters(admin_client, town):
    add_ranked_application(town=town)
    letter = Notification.objects.get()
    changelist = admin_url(Notification, "changelist")
    assert list(
        admin_client.get(changelist, {"channel__exact": "letter"}).context["cl"].result_list
    ) == [letter]
    assert not admin_client.get(changelist, {"channel__exact": "email"}).context["cl"].result_list
    response = admin_client.post(
        changelist, {"action": "print_letters", "_selected_action": [letter.pk]}
    )
    assert response["Content-Type"] == "application/pdf"
    letter.refresh_from_db()
    assert letter.status == Notification.Status.PRINTED


def draft_call_in(town) -> Initiative:
    call = open_call_in(town)
    Initiative.objects.filter(pk=call.pk).update(status=Initiative.Status.DRAFT)
    call.refresh_from_db()
    return call


def call_form_data(call: Initiative, **overrides) -> dict:
    """Every box of a call's form as a draft shows it, filled with the call's values."""

    def split(moment):
        local = timezone.localtime(moment)
        return local.strftime("%d/%m/%Y"), local.strftime("%H:%M")

    data = {
        "title": call.title,
        "description": call.description,
        "benefit_kind": call.benefit_kind,
        "applications_open_at_0": split(call.applications_open_at)[0],
        "applications_open_at_1": split(call.applications_open_at)[1],
        "applications_close_at_0": split(call.applications_close_at)[0],
        "applications_close_at_1": split(call.applications_close_at)[1],
        "municipalities": [town.pk for town in call.municipalities.all()],
        "face_value": f"{call.face_value:.2f}",
        "partial_allowed": "on",
        "valid_from": call.valid_from.strftime("%d/%m/%Y"),
        "valid_until": call.valid_until.strftime("%d/%m/%Y"),
        "allowed_categories": [category.pk for category in call.allowed_categories.all()],
        "residency_required": "on",
        "declarations": "",
        "amount_rule": call.amount_rule,
        "amount_base": f"{call.amount_base:.2f}",
        "amount_per_member": "0.00",
        "amount_per_child": "0.00",
        "ranking_criteria": call.ranking_criteria,
        "fund": call.fund_id,
        "planned_budget": "",
        "retention_years": "10",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
        "outcome_templates-TOTAL_FORMS": "0",
        "outcome_templates-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_saving_a_call_keeps_its_status_and_adds_documents_and_texts(client, town):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    call = draft_call_in(town)
    category = call.allowed_categories.get()
    opens, closes = call.applications_open_at, call.applications_close_at

    def split(moment):
        local = timezone.localtime(moment)
        return local.strftime("%d/%m/%Y"), local.strftime("%H:%M")

    data = {
        "title": "Buoni spesa 2026",
        "description": "Sostegno alimentare",
        "status": Initiative.Status.PUBLISHED,  # ignored: the status is not in the form
        "benefit_kind": call.benefit_kind,
        "applications_open_at_0": split(opens)[0],
        "applications_open_at_1": split(opens)[1],
        "applications_close_at_0": split(closes)[0],
        "applications_close_at_1": split(closes)[1],
        "municipalities": [town.pk],
        "face_value": "100.00",
        "partial_allowed": "on",
        "valid_from": call.valid_from.strftime("%d/%m/%Y"),
        "valid_until": call.valid_until.strftime("%d/%m/%Y"),
        "allowed_categories": [category.pk],
        "residency_required": "on",
        "declarations": "",
        "amount_rule": call.amount_rule,
        "amount_base": "100.00",
        "amount_per_member": "0.00",
        "amount_per_child": "0.00",
        "ranking_criteria": call.ranking_criteria,
        "fund": call.fund_id,
        "planned_budget": "",
        "documents-TOTAL_FORMS": "1",
        "documents-INITIAL_FORMS": "0",
        "documents-0-title": "Avviso pubblico",
        "documents-0-file": SimpleUploadedFile("avviso.pdf", PDF, content_type="application/pdf"),
        "outcome_templates-TOTAL_FORMS": "1",
        "outcome_templates-INITIAL_FORMS": "0",
        "outcome_templates-0-outcome": "funded",
        "outcome_templates-0-subject": "Domanda $protocollo ammessa",
        "outcome_templates-0-body": "Gentile $nome, la domanda è ammessa per $importo.",
    }
    response = client.post(admin_url(Initiative, "change", call.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors or [
        f.errors for f in response.context["inline_admin_formsets"]
    ]
    call.refresh_from_db()
    assert call.title == "Buoni spesa 2026"
    assert call.status == Initiative.Status.DRAFT
    assert call.documents.get().title == "Avviso pubblico"
    assert call.outcome_templates.get().subject == "Domanda $protocollo ammessa"

    not_a_pdf = {
        **data,
        "documents-0-file": SimpleUploadedFile(
            "avviso.pdf", b"GIF89a", content_type="application/pdf"
        ),
        "outcome_templates-TOTAL_FORMS": "0",
    }
    refused = client.post(admin_url(Initiative, "change", call.pk), not_a_pdf)
    assert refused.status_code == 200
    assert call.documents.count() == 1


@pytest.mark.parametrize(
    ("kind", "title", "button", "absent"),
    [
        (Initiative.BenefitKind.VOUCHER_CARD, "Emissione dei buoni", "Emetti i buoni", "bonifico"),
        (
            Initiative.BenefitKind.CASH_TRANSFER,
            "Assegnazione dei contributi",
            "Assegna i contributi",
            "Emetti i buoni",
        ),
        (
            Initiative.BenefitKind.REIMBURSEMENT,
            "Conferma dei rimborsi ammessi",
            "Non si emettono buoni",
            "Emetti i buoni",
        ),
    ],
)
def test_the_issuing_page_speaks_of_what_the_call_gives(client, town, kind, title, button, absent):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    call = open_call_in(town)
    Initiative.objects.filter(pk=call.pk).update(benefit_kind=kind, status=Initiative.Status.RANKED)
    logged_in(client, manager)
    page = client.get(
        reverse("admin:vouchers_initiative_issue_run_detail", args=[call.pk])
    ).content.decode()
    assert title in page
    assert button in page
    assert absent not in page
    # The call's own page labels its issuing button the same way.
    detail = client.get(admin_url(Initiative, "change", call.pk)).content.decode()
    assert reverse("admin:vouchers_initiative_issue_run_detail", args=[call.pk]) in detail
    label = {
        Initiative.BenefitKind.VOUCHER_CARD: "Emetti i buoni",
        Initiative.BenefitKind.CASH_TRANSFER: "Assegna i contributi",
        Initiative.BenefitKind.REIMBURSEMENT: "Conferma i rimborsi ammessi",
    }[kind]
    assert label in detail
    if kind != Initiative.BenefitKind.VOUCHER_CARD:
        assert "Emetti i buoni" not in detail


# --- the outcome people read -------------------------------------------------------------


def test_an_application_out_of_the_ranking_says_its_outcome_in_list_detail_export_and_app(
    client, call, desk, validator
):
    from vouchers.services.access import beneficiary_user

    logged_in(client, desk)
    for n in range(1, 5):
        intake(client, call, n)
    rejected, withdrawn, admitted, in_review = Application.objects.order_by("pk")
    bulk(client, "withdraw_applications", [withdrawn], reason="Rinuncia")
    logged_in(client, validator)
    bulk(client, "reject_applications", [rejected], reason="ISEE oltre soglia")
    bulk(client, "approve_applications", [admitted], reason="Requisiti ok")
    expected = {
        rejected: "Respinta",
        withdrawn: "Ritirata",
        admitted: "In attesa della graduatoria",
        in_review: "In istruttoria",
    }

    manager = staff(Role.PROGRAMME_MANAGER, call.municipalities.get(), Role.VALIDATOR)
    logged_in(client, manager)
    listing = client.get(admin_url(Application, "changelist"), {"initiative__id__exact": call.pk})
    body = listing.content.decode()
    rows = [row.split("</tr>")[0] for row in body.split('<tr class="data-row')[1:]]
    for application, label in expected.items():
        (row,) = [row for row in rows if application.protocol_number in row]
        assert label in row, (application.status, row)
        if application != admitted:
            assert "In attesa della graduatoria" not in row

        detail = client.get(admin_url(Application, "change", application.pk)).content.decode()
        assert label in detail
        if application != admitted:
            assert "In attesa della graduatoria" not in detail

    # The list's outcome filter agrees with its column.
    pending = client.get(admin_url(Application, "changelist"), {"esito": "pending"})
    assert list(pending.context["cl"].result_list) == [admitted]
    refused = client.get(admin_url(Application, "changelist"), {"esito": "rejected"})
    assert list(refused.context["cl"].result_list) == [rejected]

    export = client.post(
        reverse("admin:vouchers_application_export"), {"format": "0", "resource": "0"}
    )
    lines = export.content.decode("utf-8-sig").splitlines()
    for application, label in expected.items():
        (line,) = [line for line in lines if application.protocol_number in line]
        assert label in line
        if application != admitted:
            assert "In attesa della graduatoria" not in line

    for application in expected:
        client.force_login(beneficiary_user(beneficiary=application.applicant))
        mine = client.get(reverse("webapp:my-application", args=[application.pk]))
        listed = client.get(reverse("webapp:my-applications"))
        for page in (mine.content.decode(), listed.content.decode()):
            if application != admitted:
                assert "In attesa della graduatoria" not in page
            else:
                assert "In attesa della graduatoria" in page


# --- rules that do not move once published ----------------------------------------------


def test_a_published_calls_rules_are_read_only_and_its_texts_editable(client, town):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    draft = draft_call_in(town)
    fields = client.get(admin_url(Initiative, "change", draft.pk)).context["adminform"].form
    assert {"amount_base", "max_isee", "ranking_criteria", "municipalities"} <= set(fields.fields)

    call = open_call_in(town)
    page = client.get(admin_url(Initiative, "change", call.pk))
    form = page.context["adminform"].form
    assert set(form.fields) >= {"title", "description", "planned_budget"}
    for rule in [*Initiative.RULE_FIELDS, *Initiative.RULE_M2M_FIELDS]:
        assert rule not in form.fields, rule
    content = page.content.decode()
    assert reverse("admin:vouchers_initiative_amend_detail", args=[call.pk]) in content
    assert "Nessuna rettifica: le regole sono quelle pubblicate." in content
    documents, texts = page.context["inline_admin_formsets"]
    # New documents may join the published ones, which stay as they were published.
    assert documents.has_add_permission
    assert not documents.has_change_permission and not documents.has_delete_permission
    assert texts.has_change_permission

    saved = client.post(
        admin_url(Initiative, "change", call.pk),
        {
            "title": "Buoni spesa 2026",
            "description": "Testo corretto",
            "planned_budget": "",
            "retention_years": "10",
            "documents-TOTAL_FORMS": "0",
            "documents-INITIAL_FORMS": "0",
            "outcome_templates-TOTAL_FORMS": "0",
            "outcome_templates-INITIAL_FORMS": "0",
        },
    )
    assert saved.status_code == 302
    call.refresh_from_db()
    assert (call.title, call.description) == ("Buoni spesa 2026", "Testo corretto")


@pytest.mark.parametrize("status", [Initiative.Status.PUBLISHED, Initiative.Status.RANKED])
def test_a_crafted_post_does_not_change_a_published_calls_rules(client, town, status):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    call = open_call_in(town)
    Initiative.objects.filter(pk=call.pk).update(status=status)
    call.refresh_from_db()
    before = Initiative.objects.filter(pk=call.pk).values().get()
    other = factories.municipality()
    response = client.post(
        admin_url(Initiative, "change", call.pk),
        call_form_data(
            call, title="Titolo nuovo", amount_base="999.00", municipalities=[town.pk, other.pk]
        ),
    )
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "Il bando è pubblicato" in errors
    assert "«Importo base»" in errors
    assert "Rettifica del bando" in errors
    assert Initiative.objects.filter(pk=call.pk).values().get() == before
    assert list(call.municipalities.all()) == [town]


def test_an_archived_call_is_read_only_even_for_a_superuser(admin_client, town):
    call = open_call_in(town)
    call.documents.create(
        title="Avviso", file=SimpleUploadedFile("avviso.pdf", PDF, content_type="application/pdf")
    )
    Initiative.objects.filter(pk=call.pk).update(status=Initiative.Status.ARCHIVED)
    call.refresh_from_db()
    before = Initiative.objects.filter(pk=call.pk).values().get()

    page = admin_client.get(admin_url(Initiative, "change", call.pk))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert not page.context["has_change_permission"]
    for formset in page.context["inline_admin_formsets"]:
        assert not formset.has_add_permission
        assert not formset.has_change_permission
        assert not formset.has_delete_permission
    content = page.content.decode()
    for name in ("amend_detail", "assign_budget_detail"):
        assert reverse(f"admin:vouchers_initiative_{name}", args=[call.pk]) not in content

    response = admin_client.post(
        admin_url(Initiative, "change", call.pk),
        call_form_data(call, amount_base="999.00", description="Cambiata"),
        follow=True,
    )
    assert "Il bando è archiviato: non si modifica più." in messages_of(response)
    assert Initiative.objects.filter(pk=call.pk).values().get() == before
    assert call.documents.count() == 1

    amend = reverse("admin:vouchers_initiative_amend_detail", args=[call.pk])
    assert (
        admin_client.post(
            amend, {"confirm": "yes", "valid_until": "31/12/2099", "reason": "x"}
        ).status_code
        == 403
    )
    budget = reverse("admin:vouchers_initiative_assign_budget_detail", args=[call.pk])
    assert admin_client.post(budget, {"confirm": "yes", "amount": "10.00"}).status_code == 403
    assert Initiative.objects.filter(pk=call.pk).values().get() == before


def test_an_old_version_is_not_put_back_on_a_published_call(admin_client, town):
    call = draft_call_in(town)
    draft_version = call.history.order_by("-history_id").first()
    Initiative.objects.filter(pk=call.pk).update(status=Initiative.Status.DRAFT)
    call = initiative_publish(initiative=call)
    url = reverse("admin:vouchers_initiative_simple_history", args=[call.pk, draft_version.pk])
    response = admin_client.post(url, call_form_data(call, amount_base="999.00"), follow=True)
    assert any("non torna a una versione precedente" in m for m in messages_of(response))
    call.refresh_from_db()
    assert call.status == Initiative.Status.PUBLISHED
    assert call.amount_base == Decimal("100.00")


def test_an_amendment_from_the_admin_needs_a_reason_and_shows_in_the_call_and_its_history(
    client, town
):
    manager = staff(Role.PROGRAMME_MANAGER, town)
    logged_in(client, manager)
    call = open_call_in(town)
    url = reverse("admin:vouchers_initiative_amend_detail", args=[call.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["form"]
    assert {"amount_base", "max_isee", "ranking_criteria", "reason"} <= set(form.fields)
    assert "fund" not in form.fields and "title" not in form.fields

    def amend(**changes):
        # The form as shown, unchanged but for ``changes``.
        posted = {
            key: value
            for key, value in call_form_data(call).items()
            if key.rsplit("_", 1)[0] in form.fields or key in form.fields
        }
        return client.post(url, {"confirm": "yes", **posted, **changes})

    no_reason = amend(amount_base="150,00", reason="")
    assert no_reason.status_code == 200
    assert "Indica il motivo della rettifica" in no_reason.content.decode()
    call.refresh_from_db()
    assert call.amount_base == Decimal("100.00")

    unchanged = amend(reason="Nessuna modifica")
    assert "La rettifica non cambia nessuna regola." in unchanged.content.decode()

    done = amend(amount_base="150.00", reason="Determina n. 45 del 3 dicembre")
    assert done.status_code == 302
    assert "Rettifica registrata: importo base." in messages_of(done)
    call.refresh_from_db()
    assert call.amount_base == Decimal("150.00")
    row = call.amendments.get()
    assert (row.field, row.old_value, row.new_value) == ("amount_base", "100.00", "150.00")
    assert row.amended_by == manager

    detail = client.get(admin_url(Initiative, "change", call.pk)).content.decode()
    assert "Determina n. 45 del 3 dicembre" in detail
    assert "150,00" in detail and "100,00" in detail
    history = client.get(admin_url(Initiative, "history", call.pk)).content.decode()
    assert "Rettifica: Determina n. 45 del 3 dicembre" in history
