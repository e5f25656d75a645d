import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import DomainError
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.errors import ProgrammeError
from vouchers.models import Application, ApplicationDocument, Decision
from vouchers.services.applications import application_request_info, application_submit
from vouchers.services.information_requests import information_request_answer

pytestmark = pytest.mark.django_db


def waiting_application() -> Application:
    initiative = open_call()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="online"
    )
    application_request_info(application=application, reason="Allega l'ISEE", by=factories.user())
    return application


def pdf(name: str = "isee.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 ...")


def test_the_answer_and_its_document_are_recorded_together():
    application = waiting_application()
    answered = information_request_answer(application=application, note="ecco", document=pdf())
    assert answered.status == Application.Status.SUBMITTED
    assert application.decisions.filter(action=Decision.Action.ANSWER).count() == 1
    assert application.documents.get().content_type == "application/pdf"


def test_a_refused_document_records_no_answer():
    application = waiting_application()
    with pytest.raises(DomainError):
        information_request_answer(
            application=application,
            note="ecco",
            document=SimpleUploadedFile("x.pdf", b"MZ\x90 not a pdf"),
        )
    application.refresh_from_db()
    assert application.status == Application.Status.INFO_REQUESTED
    assert not application.decisions.filter(action=Decision.Action.ANSWER).exists()
    assert not ApplicationDocument.objects.exists()


@pytest.mark.parametrize("note", ["", "una seconda risposta"])
def test_a_refused_answer_keeps_no_document(note):
    application = waiting_application()
    if note:
        information_request_answer(application=application, note="la prima")
    with pytest.raises(ProgrammeError):
        information_request_answer(application=application, note=note, document=pdf())
    assert not ApplicationDocument.objects.exists()
    assert application.decisions.filter(action=Decision.Action.ANSWER).count() == (1 if note else 0)
