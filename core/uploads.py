"""Checks on uploaded files: the real type from the first bytes, and the size."""

from __future__ import annotations

import os
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


class UploadError(DomainError):
    messages = {
        "file_too_large": _("Il file supera i 10 MB: riducilo o fotografalo di nuovo."),
        "file_type_not_allowed": _("Sono accettati solo file PDF, JPEG o PNG."),
        "file_empty": _("Il file è vuoto."),
    }


def checked_upload(uploaded: UploadedFile[Any], *, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Return the content type of an accepted upload, judged from its bytes, not its name."""
    size = uploaded.size or 0
    if size == 0:
        raise UploadError("file_empty")
    if size > max_bytes:
        raise UploadError("file_too_large")
    uploaded.seek(0)
    head = uploaded.read(16)
    uploaded.seek(0)
    for signature, content_type in SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    raise UploadError("file_type_not_allowed")


def stored_file_response(
    file: FieldFile, *, content_type: str, attachment: bool, public: bool = False
) -> FileResponse:
    """Stream a stored file with its type and name; a file missing from the storage is a 404.

    Uploads are served only through views that checked who asks (the app's, the admin's):
    private ones are never cached, and no browser may guess another type for them.
    """
    try:
        stream = file.open("rb")
    except (FileNotFoundError, ValueError) as missing:
        raise Http404 from missing
    response = FileResponse(
        stream,
        as_attachment=attachment,
        filename=os.path.basename(file.name or ""),
        content_type=content_type,
    )
    response["Cache-Control"] = "public, max-age=3600" if public else "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
