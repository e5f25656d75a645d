"""Import of a desk's backlog of applications from CSV or XLSX: all rows or none.

The file's rows come from ``core.spreadsheets.read_rows``.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import Organization
from core.money import InvalidAmount, format_euro, parse_euro
from vouchers.errors import ProgrammeError
from vouchers.models import Application, Initiative
from vouchers.services.applications import (
    ISEE_CEILING,
    ApplicantData,
    MemberData,
    application_submit,
)

COLUMNS = [
    "codice_fiscale",
    "nome",
    "cognome",
    "data_nascita",
    "sesso",
    "comune_istat",
    "email",
    "telefono",
    "indirizzo",
    "cap",
    "isee",
    "protocollo_dsu",
    "iban",
    "dichiarazioni",
    "componenti",
]
REQUIRED = ["codice_fiscale", "nome", "cognome", "data_nascita", "sesso", "comune_istat"]
YES = {"si", "sì", "s", "yes", "y", "1", "true", "x"}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as the operator sees it in the spreadsheet: the header is row 1
    message: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: list[Application]
    errors: list[RowError]


def _date(text: str) -> date:
    text = text.strip()[:10]
    if "/" in text:
        day, month, year = text.split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def _members(text: str) -> list[MemberData]:
    members = []
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        fields = [f.strip() for f in entry.split(",")]
        if len(fields) != 5:
            raise ValueError(
                _("componenti: ogni componente è «CF,nome,cognome,data di nascita,figlio sì/no»")
            )
        code, first, last, birth, child = fields
        members.append(MemberData(code.upper(), first, last, _date(birth), child.lower() in YES))
    return members


def _isee(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        isee = parse_euro(text)
    except InvalidAmount as exc:
        raise ValueError(
            _("isee «%(value)s» non valido: scrivi per esempio 8500,00 o 8.500,00")
            % {"value": text}
        ) from exc
    if isee > ISEE_CEILING:
        raise ValueError(
            _("isee «%(value)s» non plausibile: al massimo %(limit)s")
            % {"value": text, "limit": format_euro(ISEE_CEILING)}
        )
    return isee


def _applicant(
    row: dict[str, str], initiative: Initiative, towns: dict[str, Organization]
) -> ApplicantData:
    missing = [column for column in REQUIRED if not row.get(column)]
    if missing:
        raise ValueError(_("mancano: %(columns)s") % {"columns": ", ".join(missing)})
    town = towns.get(row["comune_istat"].zfill(6))
    if town is None:
        raise ValueError(
            _("comune_istat %(code)s non è un comune del bando") % {"code": row["comune_istat"]}
        )
    try:
        birth_date = _date(row["data_nascita"])
    except ValueError as exc:
        raise ValueError(_("data_nascita non valida: usa AAAA-MM-GG o GG/MM/AAAA")) from exc
    declared = row.get("dichiarazioni", "").lower() in YES
    return ApplicantData(
        fiscal_code=row["codice_fiscale"],
        first_name=row["nome"],
        last_name=row["cognome"],
        birth_date=birth_date,
        sex=row["sesso"].upper()[:1],
        municipality=town,
        email=row.get("email", ""),
        phone=row.get("telefono", ""),
        street=row.get("indirizzo", ""),
        postal_code=row.get("cap", ""),
        isee=_isee(row.get("isee", "")),
        dsu_protocol=row.get("protocollo_dsu", ""),
        iban=row.get("iban", ""),
        declarations_accepted=initiative.declaration_list if declared else [],
        members=_members(row.get("componenti", "")),
    )


class ImportAborted(Exception):
    """Raised inside the transaction so that no row is kept when any row failed."""


def applications_import(
    *, initiative: Initiative, rows: list[dict[str, str]], entered_by: User | None = None
) -> ImportResult:
    """Submit every row as a desk application; if any row fails, keep none and list why."""
    towns = {t.istat_code: t for t in initiative.municipalities.all()}
    errors: list[RowError] = []
    imported: list[Application] = []
    try:
        with transaction.atomic():
            for index, row in enumerate(rows, start=2):
                try:
                    data = _applicant(row, initiative, towns)
                    with transaction.atomic():
                        imported.append(
                            application_submit(
                                initiative=initiative,
                                data=data,
                                channel=Application.Channel.DESK,
                                entered_by=entered_by,
                            )
                        )
                except (DomainError, ProgrammeError) as error:
                    errors.append(RowError(index, error.detail))
                except ValueError as error:
                    errors.append(RowError(index, str(error)))
            if errors:
                raise ImportAborted
    except ImportAborted:
        return ImportResult(imported=[], errors=errors)
    return ImportResult(imported=imported, errors=[])
