"""The parsers of every API view's body, and of the till's fast lane.

Every API view reads JSON through ``JSONParser`` and forms through ``MultiPartParser`` (the
REST_FRAMEWORK settings), the till's fast lane through ``parse_json``: a body is refused
before it is read whole when it is larger than the parser takes, and before it is decoded
when it is nested deeper than ``MAX_JSON_DEPTH`` (Python's decoder recurses, and 2,000 levels
fit in 4 KB). ``core.api.exception_handler`` turns their refusals into ``{"code", "detail"}``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers, status

MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20
# What can open or close a level outside strings, the quotes that open and close strings,
# and the escapes inside them (an escaped quote does not close its string).
_JSON_STRUCTURE = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class RequestTooLarge(exceptions.APIException):
    """A body larger than the operation takes: refused before it is read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"The body is larger than {limit} bytes.")


class JSONTooDeep(exceptions.ParseError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH`` levels."""


def content_length(meta: Mapping[str, Any]) -> int:
    """The body's declared length, 0 when it is missing or unreadable."""
    try:
        return max(int(meta.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than ``limit`` levels."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the common case, answered without a scan
    depth = 0
    in_string = False
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def parse_json(body: bytes, encoding: str = "utf-8") -> Any:
    """The value of a JSON body: strict (no NaN or Infinity) and at most MAX_JSON_DEPTH deep."""
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise exceptions.ParseError("The body is not text in its declared charset.") from exc
    if json_too_deep(text):
        raise JSONTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.BaseParser):
    """DRF's JSON parser with a size and a depth limit.

    Not a subclass of DRF's: DRF reads such a parser's body whole (up to
    DATA_UPLOAD_MAX_MEMORY_SIZE) before calling it; this one reads at most MAX_JSON_BYTES.
    """

    media_type = "application/json"
    renderer_class = parsers.JSONParser.renderer_class

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        if request is not None and content_length(request.META) > MAX_JSON_BYTES:
            raise RequestTooLarge(MAX_JSON_BYTES)
        body = stream.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise RequestTooLarge(MAX_JSON_BYTES)
        return parse_json(body, parsers.get_encoding(parser_context))


class MemoryUploadHandler(FileUploadHandler):
    """Keep every uploaded file in memory: the parser has bounded the body already."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.file.write(raw_data)
        return None  # kept: no later handler gets the chunk

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.file.seek(0)
        return InMemoryUploadedFile(
            file=self.file,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser for bodies of at most ``max_bytes``, refused before reading.

    Its files stay in memory: nothing an API client sends is written to disk.
    """

    max_bytes = 64 * 1024

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles[Any, Any]:
        parser_context = parser_context or {}
        request = parser_context["request"]
        if content_length(request.META) > self.max_bytes:
            raise RequestTooLarge(self.max_bytes)
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            data, files = DjangoMultiPartParser(
                meta,
                stream,  # type: ignore[arg-type]  # DRF's IO[Any] is the request's stream, as Django's parser wants
                [MemoryUploadHandler(request._request)],
                parsers.get_encoding(parser_context),
            ).parse()
        except MultiPartParserError as exc:
            raise exceptions.ParseError(f"Multipart form parse error - {exc}") from exc
        return parsers.DataAndFiles(data, files)
