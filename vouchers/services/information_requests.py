"""Answering a request for information: the applicant's (or the desk's) reply to the validators."""

from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from vouchers.models import Application
from vouchers.services.applications import application_answer, application_document_add


def information_request_answer(
    *,
    application: Application,
    note: str,
    document: "UploadedFile[Any] | None" = None,
    by: User | None = None,
) -> Application:
    """Record the answer to a request for information, with the document it brings if any.

    The document and the answer are kept together or not at all: a refused file leaves the
    application waiting for its answer, an answer refused (the application is no longer
    waiting for one) leaves no orphan document. The application goes back to the
    validators' queue.
    """
    with transaction.atomic():
        # The answer first: it locks the application and checks that it waits for one, so a
        # refused answer stores no file.
        application = application_answer(application=application, note=note, by=by)
        if document is not None:
            application_document_add(
                application=application,
                uploaded=document,
                title=_("Integrazione"),
                uploaded_by=by,
            )
    return application
