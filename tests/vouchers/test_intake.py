import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.uploads import UploadError
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Application, ApplicationDocument
from vouchers.services.intake import application_submit_with_documents

pytestmark = pytest.mark.django_db


def test_the_application_and_its_attachments_are_recorded_together():
    initiative = open_call()
    application = application_submit_with_documents(
        initiative=initiative,
        data=applicant(initiative, 1),
        channel=Application.Channel.DESK,
        documents=[SimpleUploadedFile("isee.pdf", b"%PDF-1.4 ...")],
    )
    assert application.documents.get().title == "isee.pdf"


def test_a_refused_attachment_leaves_no_application():
    initiative = open_call()
    with pytest.raises(UploadError):
        application_submit_with_documents(
            initiative=initiative,
            data=applicant(initiative, 1),
            channel=Application.Channel.DESK,
            documents=[
                SimpleUploadedFile("isee.pdf", b"%PDF-1.4 ..."),
                SimpleUploadedFile("x.pdf", b"MZ\x90 not a pdf"),
            ],
        )
    assert not Application.objects.exists()
    assert not ApplicationDocument.objects.exists()
