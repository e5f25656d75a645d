"""An application received at the desk (or by a tutor) together with its attachments."""

from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from vouchers.models import Application, Initiative
from vouchers.services.applications import (
    ApplicantData,
    application_document_add,
    application_submit,
)


def application_submit_with_documents(
    *,
    initiative: Initiative,
    data: ApplicantData,
    channel: str,
    documents: "list[UploadedFile[Any]]",
    entered_by: User | None = None,
    tutor: User | None = None,
    register_ineligible: bool = False,
) -> Application:
    """Receive an application and attach its files, all or nothing.

    The application's refusals are those of ``application_submit``; a file refused after all
    (``UploadError``) leaves no application behind, so the desk can correct it and submit
    again. Each file is titled with its own name.
    """
    with transaction.atomic():
        application = application_submit(
            initiative=initiative,
            data=data,
            channel=channel,
            entered_by=entered_by,
            tutor=tutor,
            register_ineligible=register_ineligible,
        )
        for uploaded in documents:
            application_document_add(
                application=application,
                uploaded=uploaded,
                title=uploaded.name or "",
                uploaded_by=entered_by,
            )
    return application
