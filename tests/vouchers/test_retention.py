"""Retention: after its term an archived call's people become anonymous, its figures stay."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from core.errors import DomainError
from core.models import Account, Posting
from core.selectors import money_sum, unbalanced_journals
from tests import factories
from tests.reports.test_archive import _media, build, closed_programme  # noqa: F401
from vouchers.models import (
    Application,
    ApplicationDocument,
    Beneficiary,
    HouseholdMember,
    Initiative,
    LoginLink,
    Notification,
)
from vouchers.selectors.runs import initiatives_due_for_anonymisation
from vouchers.services.access import access_code_issue, beneficiary_user
from vouchers.services.initiatives import initiative_archive
from vouchers.services.retention import RetentionError, initiative_anonymise
from vouchers.tasks import expired_initiatives_anonymise

pytestmark = pytest.mark.django_db


def archived_programme() -> dict:
    data = closed_programme()
    initiative = initiative_archive(initiative=data["initiative"])
    data["initiative"] = initiative
    first = data["applications"][0].applicant
    beneficiary_user(beneficiary=first)
    access_code_issue(beneficiary=first)
    LoginLink.objects.create(
        beneficiary=first, token_hash="a" * 64, expires_at=timezone.now() + timedelta(minutes=5)
    )
    data["after_term"] = initiative.retain_until + timedelta(days=1)
    return data


def figures(initiative: Initiative) -> dict:
    """What the reports and the ledger show: sums per account, counts per status."""
    archive = build(initiative)
    return {
        "summary": archive.read("riepilogo.csv"),
        "ledger": archive.read("contabilita.csv"),
        "ranking": archive.read("graduatoria.csv"),
        "accounts": {
            key: money_sum(Posting.objects.filter(account__key=key))
            for key in Account.objects.values_list("key", flat=True)
        },
        "applications": list(
            Application.objects.filter(initiative=initiative)
            .order_by("pk")
            .values_list(
                "status", "outcome", "rank", "amount", "isee", "submitted_at", "municipality"
            )
        ),
        "members": HouseholdMember.objects.count(),
        "documents": ApplicationDocument.objects.count(),
        "notifications": list(
            Notification.objects.order_by("pk").values_list("outcome", "channel", "status")
        ),
    }


def personal_values(data: dict) -> list[str]:
    first = data["applications"][0]
    member = first.members.get()
    values = ["mario.rossi@example.org", "3331234567", "Via Garibaldi", factories.VALID_IBAN]
    for application in data["applications"]:
        values += [application.applicant.fiscal_code, application.applicant.last_name]
    return values + [member.fiscal_code, "Lucia"]


def test_anonymisation_keeps_every_figure_and_removes_personal_data_everywhere(
    django_capture_on_commit_callbacks,
):
    data = archived_programme()
    initiative = data["initiative"]
    before = figures(initiative)
    secrets = personal_values(data)
    stored = [d.file.name for d in ApplicationDocument.objects.all()]
    assert all(default_storage.exists(name) for name in stored)

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are saved
        result = initiative_anonymise(initiative=initiative, today=data["after_term"])

    assert result.beneficiaries_anonymised == 3 and result.beneficiaries_kept == []
    assert figures(initiative) == before
    assert not unbalanced_journals().exists()
    initiative.refresh_from_db()
    assert initiative.personal_data_erased_at is not None
    # The live rows and their history.
    rows = [
        *Beneficiary.objects.values_list(
            "fiscal_code", "first_name", "last_name", "email", "phone"
        ),
        *Beneficiary.history.values_list(
            "fiscal_code", "first_name", "last_name", "email", "phone"
        ),
        *Application.objects.values_list("street", "postal_code", "iban", "dsu_protocol"),
        *Application.history.values_list("street", "postal_code", "iban", "dsu_protocol"),
        *HouseholdMember.objects.values_list("fiscal_code", "first_name", "last_name"),
        *Notification.objects.values_list("recipient", "subject", "body"),
        *get_user_model().objects.filter(is_staff=False).values_list("username", "email"),
    ]
    text = repr(rows)
    for secret in secrets:
        assert secret not in text, secret
    assert HouseholdMember.objects.get().birth_date.timetuple()[1:3] == (1, 1)
    assert not LoginLink.objects.exists()
    assert not Beneficiary.objects.exclude(access_code_hash="").exists()
    # The uploaded files are gone from storage, and so are they from a new archive.
    assert not any(default_storage.exists(name) for name in stored)
    archive = build(initiative)
    assert not [n for n in archive.namelist() if n.startswith("allegati/")]
    everything = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".csv"))
    for secret in secrets:
        assert secret.encode() not in everything, secret


def test_archives_prepared_for_download_are_deleted_with_the_personal_data(
    django_capture_on_commit_callbacks,
):
    from reports.archive.exports import archive_export_build, archive_export_download
    from vouchers.models import ArchiveExport

    data = archived_programme()
    initiative = data["initiative"]
    ready = archive_export_build(export=ArchiveExport.objects.create(initiative=initiative))
    stored = ready.file.name
    assert default_storage.exists(stored)
    queued = ArchiveExport.objects.create(initiative=initiative)  # built later, from new data

    with django_capture_on_commit_callbacks(execute=True):
        result = initiative_anonymise(initiative=initiative, today=data["after_term"])

    assert result.archives_deleted == 1
    assert not default_storage.exists(stored)
    ready.refresh_from_db()
    assert ready.status == ArchiveExport.Status.EXPIRED and not ready.file
    with pytest.raises(DomainError) as refused:
        archive_export_download(export=ready, by=None)
    assert refused.value.code == "expired"
    queued.refresh_from_db()
    assert queued.status == ArchiveExport.Status.QUEUED


def test_nothing_is_anonymised_before_the_end_of_the_term():
    data = archived_programme()
    initiative = data["initiative"]
    with pytest.raises(RetentionError) as error:
        initiative_anonymise(initiative=initiative, today=initiative.retain_until)
    assert error.value.code == "retention_running"
    assert initiative.retain_until.strftime("%d/%m/%Y") in error.value.detail
    applicant = Beneficiary.objects.get(pk=data["applications"][0].applicant_id)
    assert applicant.email == "mario.rossi@example.org"
    assert Initiative.objects.get(pk=initiative.pk).personal_data_erased_at is None
    assert initiatives_due_for_anonymisation(today=initiative.retain_until) == []
    assert initiatives_due_for_anonymisation(today=data["after_term"]) == [initiative]


def test_only_an_archived_call_is_anonymised():
    data = closed_programme()
    initiative = data["initiative"]
    assert initiative.status == Initiative.Status.ISSUED
    with pytest.raises(RetentionError) as error:
        initiative_anonymise(
            initiative=initiative, today=initiative.retain_until + timedelta(days=1)
        )
    assert error.value.code == "not_archived"
    assert Application.objects.exclude(street="").exists()


def test_a_beneficiary_of_another_call_still_kept_keeps_his_own_data():
    data = archived_programme()
    initiative = data["initiative"]
    person = data["applications"][0].applicant
    other = factories.initiative(
        municipalities=[person.municipality], status=Initiative.Status.ISSUED
    )
    factories.voucher(initiative=other, holder=person)

    result = initiative_anonymise(initiative=initiative, today=data["after_term"])

    assert result.beneficiaries_kept == [person.pk]
    person.refresh_from_db()
    assert person.email == "mario.rossi@example.org"
    assert person.last_name == data["applications"][0].applicant.last_name
    assert Beneficiary.history.filter(id=person.pk, email="mario.rossi@example.org").exists()
    # What belonged to the anonymised call is gone all the same.
    application = Application.objects.get(pk=data["applications"][0].pk)
    assert (application.street, application.iban) == ("", "")
    assert not HouseholdMember.objects.filter(first_name="Lucia").exists()

    # The last of his calls to go anonymises him.
    Initiative.objects.filter(pk=other.pk).update(status=Initiative.Status.ARCHIVED)
    other.refresh_from_db()
    initiative_anonymise(initiative=other, today=other.retain_until + timedelta(days=1))
    person.refresh_from_db()
    assert person.email == "" and person.first_name == "Anonimo"
    assert person.fiscal_code.startswith("ANON")


def test_anonymising_twice_changes_nothing_more():
    data = archived_programme()
    initiative = data["initiative"]
    initiative_anonymise(initiative=initiative, today=data["after_term"])
    erased_at = Initiative.objects.get(pk=initiative.pk).personal_data_erased_at
    snapshot = list(Beneficiary.objects.order_by("pk").values())
    history_rows = Initiative.history.filter(id=initiative.pk).count()

    again = initiative_anonymise(initiative=initiative, today=data["after_term"])

    assert again.already_done
    assert Initiative.objects.get(pk=initiative.pk).personal_data_erased_at == erased_at
    assert list(Beneficiary.objects.order_by("pk").values()) == snapshot
    assert Initiative.history.filter(id=initiative.pk).count() == history_rows
    assert initiatives_due_for_anonymisation(today=data["after_term"]) == []


def test_the_command_lists_with_dry_run_then_anonymises():
    data = archived_programme()
    initiative = data["initiative"]
    day = data["after_term"].isoformat()
    output = io.StringIO()
    call_command("anonymise_expired_calls", "--dry-run", "--date", day, stdout=output)
    assert initiative.title in output.getvalue()
    assert Initiative.objects.get(pk=initiative.pk).personal_data_erased_at is None
    assert Beneficiary.objects.filter(email="mario.rossi@example.org").exists()

    output = io.StringIO()
    call_command("anonymise_expired_calls", "--date", day, stdout=output)
    assert "Anonimizzato" in output.getvalue()
    assert not Beneficiary.objects.filter(email="mario.rossi@example.org").exists()

    output = io.StringIO()
    call_command("anonymise_expired_calls", "--date", day, stdout=output)
    assert "Nessun bando" in output.getvalue()


def test_the_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="AAAA-MM-GG"):
        call_command("anonymise_expired_calls", "--date", "31/12/2040")


def test_the_task_anonymises_the_expired_calls():
    data = archived_programme()
    assert expired_initiatives_anonymise.delay(data["after_term"].isoformat()).get() == 1
    assert Initiative.objects.get(pk=data["initiative"].pk).personal_data_erased_at is not None
