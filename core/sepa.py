"""ISO 20022 pain.001.001.09 credit-transfer files: SEPA text, a streaming writer, the XSD.

The writer streams with ``lxml.etree.xmlfile``: each transfer is written and forgotten, so a
file of 100,000 transfers needs no more memory than one of ten. The header's number of
transfers and control sum come from the batch, and the writer checks that the transfers it
wrote add up to them.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from os import PathLike
from typing import BinaryIO, Protocol

from django.utils import timezone
from lxml import etree

from core.models import PaymentBatch
from core.money import CENT, ZERO

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
NAME_LENGTH = 70  # EPC: a name is at most 70 characters, although ISO allows 140
REMITTANCE_LENGTH = 140

# The Latin character set every SEPA bank must accept (EPC217-08), apostrophe included.
_SEPA_TEXT = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_SPACES = re.compile(r"  +")
# Letters that Unicode does not decompose into a base letter and an accent, and punctuation,
# with a close equivalent in the SEPA set; anything else outside the set becomes a space.
_CLOSE_EQUIVALENT = {
    "ß": "ss",
    "ẞ": "SS",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "Ø": "O",
    "ø": "o",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Ł": "L",
    "ł": "l",
    "Þ": "TH",
    "þ": "th",
    "ı": "i",
    "&": "+",
    "’": "'",
    "‘": "'",
    "‚": "'",
    "`": "'",
    "´": "'",
    "ʼ": "'",
    '"': "'",
    "“": "'",
    "”": "'",
    "„": "'",
    "«": "'",
    "»": "'",
    "‹": "'",
    "›": "'",
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "−": "-",
    "_": "-",
    "°": ".",
    ";": ",",
    "!": ".",
    "\\": "/",
    "|": "/",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "<": "(",
    ">": ")",
    "€": "EUR",
    "…": "...",
}
# The combining marks that NFKD splits from accented letters.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _close_equivalent(found: re.Match[str]) -> str:
    return _CLOSE_EQUIVALENT.get(found.group(), " ")


def sepa_text(value: str, max_length: int = NAME_LENGTH) -> str:
    """Return ``value`` in the SEPA character set, accents transliterated, cut to length.

    ``"Caffè dell'Àngolo"`` becomes ``"Caffe dell'Angolo"``; characters with no close
    equivalent become spaces, runs of spaces one space.
    """
    value = value or ""
    if (
        len(value) <= max_length
        and value.isascii()
        and _SEPA_TEXT.fullmatch(value)
        and "  " not in value
        and value == value.strip()
    ):
        return value  # the common case, checked quickly: 100,000 names per file
    text = value
    if not text.isascii():
        # "à" decomposes into "a" and a combining grave accent, which is then dropped.
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    text = _SPACES.sub(" ", _NOT_SEPA.sub(_close_equivalent, text)).strip()
    return text[:max_length].rstrip()


class PaymentFileError(ValueError):
    """The transfers written do not match the batch header, or the file fails the XSD."""

    def __init__(self, message: str, errors: list[str] | None = None):
        super().__init__(message)
        self.errors = errors or []


class Header(Protocol):
    """What the writer reads from a batch (a ``core.models.PaymentBatch`` fits)."""

    message_id: str

    @property
    def payment_information_id(self) -> str: ...

    requested_execution_date: date
    exported_at: datetime | None
    total: Decimal
    transfers_count: int
    debtor_name: str
    debtor_iban: str
    debtor_bic: str
    debtor_street: str
    debtor_building_number: str
    debtor_postcode: str
    debtor_town: str
    debtor_country: str


class Transfer(Protocol):
    """What the writer reads from a transfer (a ``core.models.PaymentLine`` fits)."""

    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    creditor_bic: str
    street: str
    building_number: str
    postcode: str
    town: str
    country: str
    remittance: str


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


# Qualified names built once, by their XSD names: a transfer opens about twenty elements.
T = {
    name: _tag(name)
    for name in (
        "Document CstmrCdtTrfInitn GrpHdr MsgId CreDtTm NbOfTxs CtrlSum InitgPty Nm PmtInf "
        "PmtInfId PmtMtd BtchBookg PmtTpInf SvcLvl Cd ReqdExctnDt Dt Dbtr DbtrAcct Id IBAN "
        "Ccy DbtrAgt FinInstnId BICFI ChrgBr CdtTrfTxInf PmtId EndToEndId Amt InstdAmt "
        "CdtrAgt Cdtr CdtrAcct RmtInf Ustrd PstlAdr StrtNm BldgNb PstCd TwnNm Ctry"
    ).split()
}


def _leaf(xf: etree.xmlfile, tag: str, text: str) -> None:
    with xf.element(tag):
        xf.write(text)


def _country(value: str) -> str:
    value = (value or "").upper()
    return value if len(value) == 2 and value.isascii() and value.isalpha() else ""


def _postal_address(
    xf: etree.xmlfile, *, street: str, building_number: str, postcode: str, town: str, country: str
) -> None:
    """Write a structured address; leave it out when the town or the country is unknown."""
    town, country = sepa_text(town, 35), _country(country)
    if not town or not country:
        return
    element, write = xf.element, xf.write
    with element(T["PstlAdr"]):
        street = sepa_text(street, 70)
        if street:
            with element(T["StrtNm"]):
                write(street)
        building_number = sepa_text(building_number, 16)
        if building_number:
            with element(T["BldgNb"]):
                write(building_number)
        postcode = sepa_text(postcode, 16)
        if postcode:
            with element(T["PstCd"]):
                write(postcode)
        with element(T["TwnNm"]):
            write(town)
        with element(T["Ctry"]):
            write(country)


def _amount_text(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):.2f}"


def _creation_time(batch: Header) -> str:
    moment = batch.exported_at or timezone.now()
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _transfer_writer(xf: etree.xmlfile) -> Callable[[Transfer], None]:
    """Return a function that writes one CdtTrfTxInf (names bound once: it runs per line)."""
    element, write = xf.element, xf.write
    transfer_tag, payment_id, end_to_end_id, amount_tag, instructed = (
        T["CdtTrfTxInf"],
        T["PmtId"],
        T["EndToEndId"],
        T["Amt"],
        T["InstdAmt"],
    )
    creditor_agent, institution, bic = T["CdtrAgt"], T["FinInstnId"], T["BICFI"]
    creditor, name, creditor_account, account_id, iban = (
        T["Cdtr"],
        T["Nm"],
        T["CdtrAcct"],
        T["Id"],
        T["IBAN"],
    )
    remittance, unstructured = T["RmtInf"], T["Ustrd"]
    euro = {"Ccy": "EUR"}

    def write_transfer(transfer: Transfer) -> None:
        with element(transfer_tag):
            with element(payment_id):
                with element(end_to_end_id):
                    write(transfer.end_to_end_id)
            with element(amount_tag):
                with element(instructed, euro):
                    write(_amount_text(transfer.amount))
            if transfer.creditor_bic:
                with element(creditor_agent):
                    with element(institution):
                        with element(bic):
                            write(transfer.creditor_bic)
            with element(creditor):
                with element(name):
                    write(sepa_text(transfer.creditor_name, NAME_LENGTH))
                _postal_address(
                    xf,
                    street=transfer.street,
                    building_number=transfer.building_number,
                    postcode=transfer.postcode,
                    town=transfer.town,
                    country=transfer.country,
                )
            with element(creditor_account):
                with element(account_id):
                    with element(iban):
                        write(transfer.creditor_iban)
            with element(remittance):
                with element(unstructured):
                    write(sepa_text(transfer.remittance, REMITTANCE_LENGTH))

    return write_transfer


def pain001_write(*, batch: Header, transfers: Iterable[Transfer], out: BinaryIO) -> None:
    """Write the batch's credit transfers to ``out`` as pain.001.001.09, one at a time.

    Raise ``PaymentFileError`` when the transfers written do not add up to the header's
    number and control sum (the file written is then wrong and must be thrown away).
    """
    count, total = 0, ZERO
    # lxml writes the declaration with single quotes; some bank portals expect double.
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        with xf.element(T["Document"], nsmap={None: NAMESPACE}):
            with xf.element(T["CstmrCdtTrfInitn"]):
                with xf.element(T["GrpHdr"]):
                    _leaf(xf, T["MsgId"], batch.message_id)
                    _leaf(xf, T["CreDtTm"], _creation_time(batch))
                    _leaf(xf, T["NbOfTxs"], str(batch.transfers_count))
                    _leaf(xf, T["CtrlSum"], _amount_text(batch.total))
                    with xf.element(T["InitgPty"]):
                        _leaf(xf, T["Nm"], sepa_text(batch.debtor_name, NAME_LENGTH))
                with xf.element(T["PmtInf"]):
                    _leaf(xf, T["PmtInfId"], batch.payment_information_id)
                    _leaf(xf, T["PmtMtd"], "TRF")
                    _leaf(xf, T["BtchBookg"], "true")
                    _leaf(xf, T["NbOfTxs"], str(batch.transfers_count))
                    _leaf(xf, T["CtrlSum"], _amount_text(batch.total))
                    with xf.element(T["PmtTpInf"]):
                        with xf.element(T["SvcLvl"]):
                            _leaf(xf, T["Cd"], "SEPA")
                    with xf.element(T["ReqdExctnDt"]):
                        _leaf(xf, T["Dt"], batch.requested_execution_date.isoformat())
                    with xf.element(T["Dbtr"]):
                        _leaf(xf, T["Nm"], sepa_text(batch.debtor_name, NAME_LENGTH))
                        _postal_address(
                            xf,
                            street=batch.debtor_street,
                            building_number=batch.debtor_building_number,
                            postcode=batch.debtor_postcode,
                            town=batch.debtor_town,
                            country=batch.debtor_country,
                        )
                    with xf.element(T["DbtrAcct"]):
                        with xf.element(T["Id"]):
                            _leaf(xf, T["IBAN"], batch.debtor_iban)
                        _leaf(xf, T["Ccy"], "EUR")
                    with xf.element(T["DbtrAgt"]):
                        with xf.element(T["FinInstnId"]):
                            _leaf(xf, T["BICFI"], batch.debtor_bic)
                    _leaf(xf, T["ChrgBr"], "SLEV")
                    write_transfer = _transfer_writer(xf)
                    for transfer in transfers:
                        xf.write("\n")  # one transfer a line: the file stays readable
                        write_transfer(transfer)
                        count += 1
                        total += transfer.amount
    if count != batch.transfers_count or total != batch.total:
        raise PaymentFileError(
            f"the transfers written ({count}, {total}) do not match the header "
            f"({batch.transfers_count}, {batch.total})"
        )


@cache
def pain001_schema() -> etree.XMLSchema:
    """The ISO 20022 XSD of pain.001.001.09, as shipped by the sepaxml package."""
    source = resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    with source.open("rb") as xsd:
        return etree.XMLSchema(etree.parse(xsd))


def validate_pain001(source: str | PathLike[str] | bytes) -> None:
    """Check a pain.001.001.09 file (a path or its bytes) against the ISO XSD.

    The file is read as a stream, each transfer forgotten once checked, so a file of
    100,000 transfers is validated in flat memory. Raise ``PaymentFileError`` with the
    schema's messages when it is not valid.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        for _event, element in etree.iterparse(
            stream,
            events=("end",),
            tag=T["CdtTrfTxInf"],
            schema=pain001_schema(),
            resolve_entities=False,
            no_network=True,
        ):
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        errors = [f"line {e.line}: {e.message}" for e in exc.error_log] or [str(exc)]
        raise PaymentFileError("not a valid pain.001.001.09 file", errors) from exc


# The columns the writer reads, loaded as light named tuples rather than model instances.
TRANSFER_FIELDS = (
    "end_to_end_id",
    "amount",
    "creditor_name",
    "creditor_iban",
    "creditor_bic",
    "street",
    "building_number",
    "postcode",
    "town",
    "country",
    "remittance",
)


def payment_batch_xml(batch: PaymentBatch, out: BinaryIO) -> None:
    """Write a saved ``PaymentBatch`` with its lines, in their order, as pain.001.001.09."""
    transfers = (
        batch.lines.order_by("pk")
        .values_list(*TRANSFER_FIELDS, named=True)
        .iterator(chunk_size=5000)
    )
    pain001_write(batch=batch, transfers=transfers, out=out)
