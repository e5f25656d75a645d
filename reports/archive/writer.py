"""Writing a call's archive: the ZIP members streamed, every file counted in the manifest."""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.models import PaymentBatch
from core.money import CENT
from vouchers.models import Initiative

# A call is archived once nobody can apply any more.
ARCHIVABLE_STATUSES = (
    Initiative.Status.CLOSED,
    Initiative.Status.RANKED,
    Initiative.Status.ISSUED,
    Initiative.Status.ARCHIVED,
)
# Only the batches whose file went to the bank are part of the record.
SENT_BATCH_STATUSES = (PaymentBatch.Status.EXPORTED, PaymentBatch.Status.PAID)
ROWS_PER_CHUNK = 2000  # rows read per query and encoded per write
COPY_BLOCK = 1024 * 1024
LETTERS_PER_PDF = 500
MANIFEST_NAME = "INDICE.sha256"
# The reports' file names, by dimension.
REPORT_NAMES = {
    "call": "bando",
    "municipality": "comune",
    "shop": "negozio",
    "category": "categoria",
    "week": "settimana",
    "funder": "finanziatore",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(DomainError):
    messages = {
        "not_closed": gettext_lazy(
            "Si archivia solo un bando chiuso alle domande: «%(title)s» è «%(status)s»."
        ),
    }


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    path: str
    size: int
    sha256: str


@dataclass(slots=True)
class ArchiveResult:
    files: list[ArchivedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # stored files that could not be read


class _Member:
    """A ZIP member being written: counts and hashes what goes through."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        pass


class ArchiveWriter:
    def __init__(self, zip_file: ZipFile, moment: datetime):
        self.zip_file = zip_file
        local = timezone.localtime(moment)
        # ZIP timestamps have two-second steps and no time zone: the local time, as unzip shows.
        self.date_time = (local.year, local.month, local.day, local.hour, local.minute, 0)
        self.result = ArchiveResult()

    @contextmanager
    def member(self, path: str) -> Iterator[_Member]:
        info = ZipInfo(path, date_time=self.date_time)
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self.zip_file.open(info, "w", force_zip64=True) as stream:
            member = _Member(stream)
            yield member
        self.result.files.append(ArchivedFile(path, member.size, member.digest.hexdigest()))

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.member(path) as member:
            member.write(data)

    def write_csv(
        self, path: str, header: Iterable[object], rows: Iterable[Iterable[object]]
    ) -> None:
        with self.member(path) as member:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([str(title) for title in header])
            for count, row in enumerate(rows, start=1):
                writer.writerow([_cell(value) for value in row])
                if count % ROWS_PER_CHUNK == 0:
                    member.write(buffer.getvalue().encode())
                    buffer.seek(0)
                    buffer.truncate()
            member.write(buffer.getvalue().encode())

    def copy_stored(self, path: str, field_file: FieldFile) -> None:
        """Copy a stored upload into the archive; note it as missing if it cannot be read."""
        try:
            field_file.open("rb")
        except (OSError, ValueError):
            self.result.missing.append(path)
            return
        try:
            with self.member(path) as member:
                for block in iter(lambda: field_file.read(COPY_BLOCK), b""):
                    member.write(block)
        finally:
            field_file.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT):.2f}"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
    return str(value)


def safe_name(name: str) -> str:
    """The file's own name, reduced to characters every unzip and sha256sum read alike."""
    base = name.rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", base).strip("._") or "file"


def protocol_number(year: int | None, sequence: int | None) -> str:
    return f"{year}/{sequence:06d}"


def chunked(queryset: QuerySet[Any, Any]) -> Iterator[Any]:
    return queryset.iterator(chunk_size=ROWS_PER_CHUNK)


def choice_labels(choices: Iterable[tuple[Any, Any]]) -> dict[Any, str]:
    return {value: str(label) for value, label in choices}
