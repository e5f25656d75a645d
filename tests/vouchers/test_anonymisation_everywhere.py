"""After anonymisation no personal data of a call's people is left in any table of the database.

Each test takes a call of one kind through its whole life with people of distinctive names
(applications, household members, vouchers spent in a shop, outcome messages, logins and
failed logins, changes in the admin, cash contributions or reimbursements paid by SEPA
transfer), archives and anonymises it, then reads every column of every table, the
third-party ones included, looking for each person's fiscal code, names, e-mail, phone,
IBAN and address.
"""

import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from schwifty import IBAN

from core.services.payments import (
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlements_run
from merchants.services.tills import Till
from tests import factories
from tests.reports.test_archive import _media  # noqa: F401
from tests.vouchers.test_programme import fiscal_code, open_call
from tests.vouchers.test_reimbursement_review import claim_of
from vouchers.models import Application, Beneficiary, Initiative, Voucher
from vouchers.services.access import access_code_issue
from vouchers.services.applications import (
    ApplicantData,
    MemberData,
    application_approve,
    application_document_add,
    application_submit,
)
from vouchers.services.beneficiary_payments import beneficiary_payment_batch_prepare
from vouchers.services.initiatives import initiative_archive, initiative_close
from vouchers.services.issuing import initiative_issue
from vouchers.services.notifications import initiative_notify_outcomes
from vouchers.services.ranking import initiative_rank
from vouchers.services.reimbursements import claim_decide, expense_review
from vouchers.services.retention import initiative_anonymise

pytestmark = pytest.mark.django_db(transaction=False)

PEOPLE = [
    {
        "first_name": "Ermenegilda",
        "last_name": "Zanzottera",
        "email": "ermenegilda.zanzottera@example.org",
        "phone": "+39 347 5550101",
        "street": "Via Fabio Filzi 17",
    },
    {
        "first_name": "Policarpo",
        "last_name": "Sbarbaro",
        "email": "policarpo.sbarbaro@example.org",
        "phone": "+39 347 5550102",
        "street": "Vicolo dei Cimatori 29",
    },
    {
        "first_name": "Genoveffa",
        "last_name": "Quattrocchi",
        "email": "",  # told by SMS
        "phone": "+39 347 5550103",
        "street": "Piazza Santo Stefano 4",
    },
]
MEMBER = {"first_name": "Eustachio", "last_name": "Bortolameolli"}


def person_iban(n: int) -> str:
    return str(IBAN.generate("IT", bank_code="0306909606", account_code=f"{731000 + n:012d}"))


def people_of(initiative: Initiative) -> list[dict]:
    """Each person's data as typed, with the fiscal codes and IBANs they were given."""
    people = []
    for n, person in enumerate(PEOPLE, start=1):
        code, birth, sex = fiscal_code(400 + n)
        people.append(
            {**person, "fiscal_code": code, "birth": birth, "sex": sex, "iban": person_iban(n)}
        )
    return people


def submit(initiative: Initiative, person: dict, *, members=(), entered_by=None) -> Application:
    return application_submit(
        initiative=initiative,
        data=ApplicantData(
            fiscal_code=person["fiscal_code"],
            first_name=person["first_name"],
            last_name=person["last_name"],
            birth_date=person["birth"],
            sex=person["sex"],
            municipality=initiative.municipalities.first(),
            email=person["email"],
            phone=person["phone"],
            street=person["street"],
            postal_code="00186",
            iban=person["iban"],
            isee="5000.00",
            members=list(members),
        ),
        channel="desk",
        entered_by=entered_by or factories.user(),
    )


def applied_and_ranked(initiative: Initiative) -> tuple[list[dict], list[Application]]:
    people = people_of(initiative)
    member_code, member_birth, _sex = fiscal_code(499)
    MEMBER["fiscal_code"] = member_code
    desk, validator = factories.user(), factories.user()
    applications = [
        submit(
            initiative,
            people[0],
            entered_by=desk,
            members=[
                MemberData(member_code, MEMBER["first_name"], MEMBER["last_name"], member_birth)
            ],
        ),
        *(submit(initiative, person, entered_by=desk) for person in people[1:]),
    ]
    application_document_add(
        application=applications[0],
        uploaded=SimpleUploadedFile(
            f"isee {people[0]['last_name']}.pdf", b"%PDF-1.4\n", content_type="application/pdf"
        ),
        title=f"ISEE di {people[0]['first_name']} {people[0]['last_name']}",
        uploaded_by=desk,
    )
    initiative_close(initiative=initiative)
    for application in applications:
        application_approve(application=application, reason="Requisiti ok", by=validator)
    initiative_rank(initiative=initiative)
    return people, applications


def logins_and_admin_changes(people: list[dict]) -> None:
    """What the people leave behind by using the app, and staff by correcting their data."""
    first = Beneficiary.objects.get(fiscal_code=people[0]["fiscal_code"])
    code = access_code_issue(beneficiary=first)
    client = Client()
    login = reverse("webapp:login")
    client.post(login, {"code-fiscal_code": first.fiscal_code, "code-access_code": "ZZZZ-ZZZZ"})
    client.post(login, {"code-fiscal_code": first.fiscal_code, "code-access_code": code})
    client.post(login, {"link-email": people[0]["email"]})
    # The till's login page, typed with the fiscal code and then with the e-mail.
    for username in (first.fiscal_code, people[1]["email"]):
        Client().post("/cassa/accesso/", {"username": username, "password": "sbagliata"})
    # Staff correct a phone number in the admin: a history row and an admin log entry.
    admin = factories.user(is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    second = Beneficiary.objects.get(fiscal_code=people[1]["fiscal_code"])
    page = staff.get(reverse("admin:vouchers_beneficiary_change", args=[second.pk]))
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list | dict)
    }
    staff.post(
        reverse("admin:vouchers_beneficiary_change", args=[second.pk]),
        {**form, "phone": people[1]["phone"].replace(" ", "")},
    )


def voucher_call() -> tuple[Initiative, list[dict]]:
    initiative = open_call()
    people, _applications = applied_and_ranked(initiative)
    initiative_issue(initiative=initiative)
    initiative_notify_outcomes(initiative=initiative)
    shop = factories.merchant(initiative=initiative)
    voucher = Voucher.objects.filter(initiative=initiative).order_by("pk").first()
    voucher_redeem(till=Till(merchant=shop), code=voucher.code, amount="12.34", idempotency_key="k")
    [settlement] = settlements_run()
    batch = merchant_payment_batch_prepare(settlements=[settlement], prepared_by=factories.user())
    batch = payment_batch_release(batch=batch, released_by=factories.user())
    payment_batch_export(batch=batch, out=io.BytesIO())
    return initiative, people


def pay_beneficiaries(initiative: Initiative) -> None:
    result = beneficiary_payment_batch_prepare(initiative=initiative, prepared_by=factories.user())
    batch = payment_batch_release(batch=result.batch, released_by=factories.user())
    batch = payment_batch_export(batch=batch, out=io.BytesIO())
    payment_batch_mark_paid(batch=batch, by=factories.user())


def cash_contribution_call() -> tuple[Initiative, list[dict]]:
    initiative = open_call(benefit_kind=Initiative.BenefitKind.CASH_TRANSFER, amount_base="99.99")
    people, _applications = applied_and_ranked(initiative)
    initiative_issue(initiative=initiative)
    initiative_notify_outcomes(initiative=initiative)
    pay_beneficiaries(initiative)
    return initiative, people


def reimbursement_call() -> tuple[Initiative, list[dict]]:
    initiative = open_call(benefit_kind=Initiative.BenefitKind.REIMBURSEMENT)
    people, applications = applied_and_ranked(initiative)
    initiative_issue(initiative=initiative)
    initiative_notify_outcomes(initiative=initiative)
    reviewer = factories.user()
    for application in applications:
        application.refresh_from_db()
        claim = claim_of(application, "40.00")
        for expense in claim.expenses.all():
            expense_review(expense=expense, decision="approved", reviewed_by=reviewer)
        claim_decide(claim=claim, decided_by=reviewer)
    pay_beneficiaries(initiative)
    return initiative, people


def personal_values(people: list[dict]) -> set[str]:
    values = set()
    for person in people:
        values |= {
            person["fiscal_code"],
            person["first_name"],
            person["last_name"],
            person["phone"],
            person["iban"],
            person["street"],
        }
        if person["email"]:
            values |= {person["email"], person["email"].split("@")[0]}
    return values | {MEMBER["fiscal_code"], MEMBER["first_name"], MEMBER["last_name"]}


def database_text() -> list[tuple[str, str, str]]:
    """Every value of every column of every table, as lower-case text without spaces."""
    cells = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608 (names from the schema)
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, memoryview | bytes):
                        text = bytes(value).decode("latin-1")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    cells.append((table, column, "".join(text.lower().split())))
    return cells


def leftovers(values: set[str]) -> list[tuple[str, str, str]]:
    cells = database_text()
    found = []
    for value in sorted(values):
        wanted = "".join(value.lower().split())
        found += [(table, column, value) for table, column, text in cells if wanted in text]
    return sorted(set(found))


@pytest.mark.parametrize(
    "build", [voucher_call, cash_contribution_call, reimbursement_call], ids=lambda b: b.__name__
)
def test_no_personal_data_of_the_calls_people_is_left_in_any_table(
    build, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        initiative, people = build()
        logins_and_admin_changes(people)
    values = personal_values(people)
    # The check finds them all before.
    before = {value for _table, _column, value in leftovers(values)}
    assert before == values

    initiative = initiative_archive(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        initiative_anonymise(
            initiative=initiative, today=initiative.retain_until + timedelta(days=1)
        )

    left = leftovers(values)
    assert not left, "still in the database:\n" + "\n".join(map(str, left))
