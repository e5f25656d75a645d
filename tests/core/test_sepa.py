"""SEPA credit-transfer files (pain.001.001.09), payment batches and camt.054 reconciliation."""

import io
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from core.models import PaymentBatch, PaymentLine
from core.sepa import (
    NAMESPACE,
    PaymentFileError,
    pain001_write,
    payment_batch_xml,
    sepa_text,
    validate_pain001,
)
from core.services.payments import (
    PaymentError,
    PaymentOrder,
    next_business_day,
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_prepare,
    payment_batch_release,
    street_and_number,
)
from core.services.reconciliation import camt054_debits, payment_batch_reconcile_camt054
from tests import factories

NS = {"p": NAMESPACE}
SEPA_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
ACCENTED_NAME = "Caffè dell'Àngolo Società Coop. a r.l."
LONG_NAME = (
    "Società Cooperativa Sociale di Produzione e Lavoro «Il Forno dell'Antica Città» "
    "Agroalimentare a responsabilità limitata"
)


@contextmanager
def refused(code: str):
    with pytest.raises(PaymentError) as info:
        yield info
    assert info.value.code == code


def order(number: int = 1, **overrides) -> PaymentOrder:
    fields = {
        "creditor_name": f"Negozio {number}",
        "iban": factories.VALID_IBAN,
        "amount": Decimal("10.00") + Decimal(number) / 100,
        "remittance": f"Pagamento n. {number}",
        "street": "Via Roma",
        "building_number": str(number),
        "postcode": "00100",
        "town": "Roma",
    }
    fields.update(overrides)
    return PaymentOrder(**fields)


def prepared(orders=None, *, by=None, kind=PaymentBatch.Kind.BENEFICIARY_PAYMENTS):
    return payment_batch_prepare(
        kind=kind,
        lines=orders if orders is not None else [order(1), order(2)],
        prepared_by=by or factories.user(),
    )


def released(orders=None) -> PaymentBatch:
    batch = prepared(orders)
    return payment_batch_release(batch=batch, released_by=factories.user())


def exported(orders=None) -> tuple[PaymentBatch, bytes]:
    batch = released(orders)
    out = io.BytesIO()
    batch = payment_batch_export(batch=batch, out=out)
    return batch, out.getvalue()


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [element.text for element in root.iterfind(path, NS)]


# --- The SEPA character set ------------------------------------------------------------------


def test_sepa_text_transliterates_accents_and_keeps_apostrophes():
    assert sepa_text(ACCENTED_NAME) == "Caffe dell'Angolo Societa Coop. a r.l."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Perché più così, già: È ò ù", "Perche piu cosi, gia: E o u"),
        ("Müller & Söhne", "Muller + Sohne"),
        ("Straße «Ñandú»", "Strasse 'Nandu'"),
        ("Łódź — Œuvre", "Lodz - OEuvre"),
        ("L’Oréal “Italia”", "L'Oreal 'Italia'"),
        ("Sconto 50% @ negozio #3", "Sconto 50 negozio 3"),
        ("Forno_Pane;Latte!", "Forno-Pane,Latte."),
        ("  spazi\t\te\na capo  ", "spazi e a capo"),
        ("日本", ""),
    ],
)
def test_sepa_text_replaces_what_the_sepa_set_lacks_with_a_close_equivalent(text, expected):
    assert sepa_text(text) == expected


def test_sepa_text_cuts_names_to_70_characters_without_a_trailing_space():
    name = sepa_text(LONG_NAME)
    assert len(name) <= 70
    assert name == name.strip()
    assert name.startswith("Societa Cooperativa Sociale di Produzione e Lavoro 'Il Forno")


@given(st.text(max_size=200), st.integers(min_value=1, max_value=140))
def test_sepa_text_always_returns_sepa_characters_within_the_length(text, length):
    result = sepa_text(text, length)
    assert len(result) <= length
    assert set(result) <= SEPA_CHARACTERS
    assert result == result.strip()
    assert "  " not in result


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Via Roma 1", ("Via Roma", "1")),
        ("Corso Italia, 12/B", ("Corso Italia", "12/B")),
        ("Viale 2 Giugno 14 A", ("Viale 2 Giugno", "14A")),
        ("Piazza Garibaldi n. 3", ("Piazza Garibaldi", "3")),
        ("Via XX Settembre", ("Via XX Settembre", "")),
        ("Via 4 Novembre", ("Via 4 Novembre", "")),
    ],
)
def test_street_and_number_splits_the_building_number_when_there_is_one(address, expected):
    assert street_and_number(address) == expected


def test_next_business_day_skips_the_weekend():
    assert next_business_day(date(2026, 3, 6)) == date(2026, 3, 9)  # Friday → Monday
    assert next_business_day(date(2026, 3, 9)) == date(2026, 3, 10)


# --- The file ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_with_accents_apostrophes_and_long_names_is_valid_against_the_xsd():
    batch, xml = exported(
        [
            order(1, creditor_name=ACCENTED_NAME, town="Forlì", street="Via dell'Università"),
            order(2, creditor_name=LONG_NAME, remittance="Rimborso spese «scolastiche» " * 10),
            order(3, creditor_name="Pane & Co.", bic="BLOPIT22XXX", building_number=""),
        ]
    )
    validate_pain001(xml)
    root = parse(xml)
    names = texts(root, ".//p:Cdtr/p:Nm")
    assert names[0] == "Caffe dell'Angolo Societa Coop. a r.l."
    assert len(names[1]) <= 70 and names[1].startswith("Societa Cooperativa Sociale")
    assert names[2] == "Pane + Co."
    assert all(set(name) <= SEPA_CHARACTERS for name in names)
    assert texts(root, ".//p:Cdtr/p:PstlAdr/p:TwnNm")[0] == "Forli"
    assert texts(root, ".//p:Cdtr/p:PstlAdr/p:StrtNm")[0] == "Via dell'Universita"
    assert all(len(text) <= 140 for text in texts(root, ".//p:RmtInf/p:Ustrd"))
    # Only the third transfer names the creditor's bank; only the first two a number.
    assert texts(root, ".//p:CdtrAgt/p:FinInstnId/p:BICFI") == ["BLOPIT22XXX"]
    assert len(texts(root, ".//p:Cdtr/p:PstlAdr/p:BldgNb")) == 2
    assert batch.message_id == texts(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId")[0]


@pytest.mark.django_db
def test_a_file_of_500_transfers_is_valid_and_its_header_adds_up():
    orders = [order(n, amount=Decimal(n) + Decimal("0.07")) for n in range(1, 501)]
    batch, xml = exported(orders)
    validate_pain001(xml)
    root = parse(xml)
    expected_total = sum((o.amount for o in orders), Decimal("0.00"))
    assert batch.total == expected_total
    for header in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert texts(root, f"{header}/p:NbOfTxs") == ["500"]
        assert texts(root, f"{header}/p:CtrlSum") == [f"{expected_total:.2f}"]
    amounts = root.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
    assert len(amounts) == 500
    assert {a.get("Ccy") for a in amounts} == {"EUR"}
    assert all(len(a.text.split(".")[1]) == 2 for a in amounts)
    assert sum(Decimal(a.text) for a in amounts) == expected_total
    ids = texts(root, ".//p:PmtId/p:EndToEndId")
    assert len(set(ids)) == 500 and all(len(i) <= 35 for i in ids)
    assert ids == list(batch.lines.order_by("pk").values_list("end_to_end_id", flat=True))
    assert texts(root, ".//p:PmtInf/p:ChrgBr") == ["SLEV"]
    assert texts(root, ".//p:PmtTpInf/p:SvcLvl/p:Cd") == ["SEPA"]
    assert texts(root, ".//p:DbtrAcct/p:Id/p:IBAN") == [batch.debtor_iban]
    assert texts(root, ".//p:DbtrAgt/p:FinInstnId/p:BICFI") == [batch.debtor_bic]
    assert texts(root, ".//p:Dbtr/p:PstlAdr/p:Ctry") == ["IT"]


@pytest.mark.django_db
def test_message_and_end_to_end_ids_are_unique_across_batches_and_fit_35_characters():
    first, second = prepared(), prepared()
    assert first.message_id != second.message_id
    assert max(len(first.message_id), len(first.payment_information_id)) <= 35
    ids = list(PaymentLine.objects.values_list("end_to_end_id", flat=True))
    assert len(ids) == len(set(ids)) == 4
    assert all(len(i) <= 35 and i.startswith(("BC",)) for i in ids)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.filter(pk=second.lines.first().pk).update(
            end_to_end_id=first.lines.first().end_to_end_id
        )


def test_validate_pain001_reports_what_the_xsd_refuses():
    bad = (
        f'<?xml version="1.0"?><Document xmlns="{NAMESPACE}"><CstmrCdtTrfInitn><GrpHdr>'
        "<MsgId>X</MsgId><NbOfTxs>1</NbOfTxs></GrpHdr></CstmrCdtTrfInitn></Document>"
    ).encode()
    with pytest.raises(PaymentFileError) as info:
        validate_pain001(bad)
    assert any("CreDtTm" in error for error in info.value.errors)


def test_validate_pain001_reads_a_file_from_its_path(tmp_path):
    header = SimpleNamespace(
        message_id="BC-TEST-1",
        payment_information_id="BC-TEST-1-1",
        requested_execution_date=date(2026, 3, 9),
        exported_at=None,
        total=Decimal("12.30"),
        transfers_count=1,
        debtor_name="Agenzia",
        debtor_iban=factories.VALID_IBAN,
        debtor_bic="BLOPIT22",
        debtor_street="",
        debtor_building_number="",
        debtor_postcode="",
        debtor_town="",
        debtor_country="IT",
    )
    transfer = SimpleNamespace(
        end_to_end_id="BC-TEST-1-000001",
        amount=Decimal("12.30"),
        creditor_name="Bar Sport",
        creditor_iban=factories.VALID_IBAN,
        creditor_bic="",
        street="",
        building_number="",
        postcode="",
        town="",
        country="IT",
        remittance="Prova",
    )
    path = tmp_path / "batch.xml"
    with path.open("wb") as out:
        pain001_write(batch=header, transfers=[transfer], out=out)
    validate_pain001(path)
    validate_pain001(str(path))
    # No town: the address is left out rather than half written.
    assert b"PstlAdr" not in path.read_bytes().split(b"<CdtTrfTxInf>")[1]


def test_the_writer_refuses_transfers_that_do_not_add_up_to_the_header():
    header = SimpleNamespace(
        message_id="M",
        payment_information_id="M-1",
        requested_execution_date=date(2026, 3, 9),
        exported_at=None,
        total=Decimal("99.00"),
        transfers_count=1,
        debtor_name="Agenzia",
        debtor_iban=factories.VALID_IBAN,
        debtor_bic="BLOPIT22",
        debtor_street="",
        debtor_building_number="",
        debtor_postcode="",
        debtor_town="Roma",
        debtor_country="IT",
    )
    transfer = SimpleNamespace(
        end_to_end_id="E",
        amount=Decimal("1.00"),
        creditor_name="A",
        creditor_iban=factories.VALID_IBAN,
        creditor_bic="",
        street="",
        building_number="",
        postcode="",
        town="",
        country="IT",
        remittance="R",
    )
    with pytest.raises(PaymentFileError):
        pain001_write(batch=header, transfers=[transfer], out=io.BytesIO())


# --- Prepare -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_prepare_stores_the_lines_in_the_sepa_set_with_the_agency_as_debtor(settings):
    settings.AGENCY_DEBTOR_NAME = "Agenzia Città Solidale"
    batch = prepared(
        [order(1, creditor_name=ACCENTED_NAME, iban="IT60 X054 2811 1010 0000 0123 456")]
    )
    assert batch.status == PaymentBatch.Status.PREPARED
    assert (batch.transfers_count, batch.total) == (1, Decimal("10.01"))
    assert batch.debtor_name == "Agenzia Citta Solidale"
    assert (batch.debtor_iban, batch.debtor_bic) == ("IT60X0542811101000000123456", "BLOPIT22XXX")
    line = batch.lines.get()
    assert line.creditor_name == "Caffe dell'Angolo Societa Coop. a r.l."
    assert line.creditor_iban == "IT60X0542811101000000123456"
    assert line.end_to_end_id == f"{batch.message_id}-000001"
    assert batch.requested_execution_date > timezone.localdate()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("orders", "code"),
    [
        ([], "no_lines"),
        ([order(1, iban="IT60X0542811101000000123457")], "invalid_iban"),
        ([order(1, amount=Decimal("0.00"))], "invalid_amount"),
        ([order(1, amount=Decimal("1.001"))], "invalid_amount"),
        ([order(1, creditor_name="日本")], "invalid_creditor"),
        ([order(1, bic="NOTABIC")], "invalid_bic"),
        ([order(1, country="Italia")], "invalid_country"),
    ],
)
def test_prepare_refuses_a_wrong_order_and_saves_nothing(orders, code):
    with refused(code):
        prepared(orders)
    assert not PaymentBatch.objects.exists()


@pytest.mark.django_db
def test_prepare_refuses_an_execution_date_in_the_past():
    with refused("execution_date_past"):
        payment_batch_prepare(
            kind=PaymentBatch.Kind.BENEFICIARY_PAYMENTS,
            lines=[order()],
            prepared_by=factories.user(),
            execution_date=timezone.localdate() - timedelta(days=1),
        )


@pytest.mark.django_db
def test_prepare_refuses_a_misconfigured_agency_account(settings):
    settings.AGENCY_DEBTOR_IBAN = "IT00X0000000000000000000000"
    with refused("debtor_not_configured"):
        prepared()


@pytest.mark.django_db
def test_a_merchant_batch_needs_the_shop_of_each_transfer():
    with refused("merchant_required"):
        prepared(kind=PaymentBatch.Kind.MERCHANT_SETTLEMENTS)


# --- Release, export, paid, cancel -----------------------------------------------------------


@pytest.mark.django_db
def test_release_by_the_person_who_prepared_the_batch_is_refused_with_four_eyes():
    preparer = factories.user()
    batch = prepared(by=preparer)
    with refused("four_eyes"):
        payment_batch_release(batch=batch, released_by=preparer)
    with refused("four_eyes"):
        payment_batch_release(batch=batch, released_by=None)
    batch.refresh_from_db()
    assert (batch.status, batch.released_by) == (PaymentBatch.Status.PREPARED, None)


@pytest.mark.django_db
def test_the_database_refuses_a_batch_released_by_its_preparer_too():
    batch = prepared()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentBatch.objects.filter(pk=batch.pk).update(released_by=batch.prepared_by)


@pytest.mark.django_db
def test_release_by_a_second_person_then_again_changes_nothing_the_second_time():
    batch = prepared()
    checker = factories.user()
    first = payment_batch_release(batch=batch, released_by=checker)
    assert (first.status, first.released_by) == (PaymentBatch.Status.RELEASED, checker)
    again = payment_batch_release(batch=batch, released_by=factories.user())
    assert (again.released_by, again.released_at) == (checker, first.released_at)
    assert batch.status == PaymentBatch.Status.RELEASED  # the caller's object is refreshed


@pytest.mark.django_db
def test_export_of_a_batch_not_released_is_refused_with_not_released():
    batch = prepared()
    with refused("not_released"):
        payment_batch_export(batch=batch, out=io.BytesIO())
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PREPARED and batch.exported_at is None


@pytest.mark.django_db
def test_export_twice_writes_the_same_bytes_and_marks_the_batch_exported_once():
    batch, first = exported()
    exported_at = batch.exported_at
    assert batch.status == PaymentBatch.Status.EXPORTED
    second = io.BytesIO()
    again = payment_batch_export(batch=batch, out=second)
    assert second.getvalue() == first
    assert again.exported_at == exported_at
    third = io.BytesIO()
    payment_batch_xml(batch, third)
    assert third.getvalue() == first
    created = parse(first).findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", namespaces=NS)
    assert created == timezone.localtime(exported_at).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.django_db
def test_mark_paid_needs_an_exported_batch_and_twice_changes_nothing():
    batch = released()
    with refused("not_exported"):
        payment_batch_mark_paid(batch=batch, by=factories.user())
    payment_batch_export(batch=batch, out=io.BytesIO())
    payer = factories.user()
    paid = payment_batch_mark_paid(batch=batch, by=payer)
    assert (paid.status, paid.paid_by) == (PaymentBatch.Status.PAID, payer)
    assert not batch.lines.filter(paid_at=None).exists()
    again = payment_batch_mark_paid(batch=batch, by=factories.user())
    assert (again.paid_by, again.paid_at) == (payer, paid.paid_at)


@pytest.mark.django_db
def test_a_paid_batch_can_still_be_exported_again_identically():
    batch, first = exported()
    payment_batch_mark_paid(batch=batch, by=factories.user())
    out = io.BytesIO()
    payment_batch_export(batch=batch, out=out)
    assert out.getvalue() == first


@pytest.mark.django_db
def test_cancel_needs_a_reason_and_a_cancelled_batch_is_neither_released_nor_exported():
    batch = prepared()
    with refused("reason_required"):
        payment_batch_cancel(batch=batch, by=factories.user(), reason=" ")
    cancelled = payment_batch_cancel(batch=batch, by=factories.user(), reason="IBAN sbagliato")
    assert (cancelled.status, cancelled.cancel_reason) == (
        PaymentBatch.Status.CANCELLED,
        "IBAN sbagliato",
    )
    assert payment_batch_cancel(batch=batch, by=None, reason="").cancelled_at == (
        cancelled.cancelled_at
    )
    with refused("invalid_transition"):
        payment_batch_release(batch=batch, released_by=factories.user())
    with refused("not_released"):
        payment_batch_export(batch=batch, out=io.BytesIO())


@pytest.mark.django_db
def test_a_paid_batch_cannot_be_cancelled():
    batch, _xml = exported()
    payment_batch_mark_paid(batch=batch, by=None)
    with refused("invalid_transition"):
        payment_batch_cancel(batch=batch, by=None, reason="ripensamento")


# --- camt.054 ----------------------------------------------------------------------------------

CAMT_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


def camt_transaction(end_to_end_id: str, amount, *, message_id: str = "", currency="EUR") -> str:
    refs = f"<MsgId>{message_id}</MsgId>" if message_id else ""
    return (
        f"<TxDtls><Refs>{refs}<EndToEndId>{end_to_end_id}</EndToEndId></Refs>"
        f'<Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd></TxDtls>'
    )


def camt_entry(details: str, amount, *, status="BOOK", indicator="DBIT") -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>2026-03-10</Dt></BookgDt>"
        "<ValDt><Dt>2026-03-10</Dt></ValDt><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd>"
        "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>"
    )


def camt054(*entries: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{CAMT_NAMESPACE}">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>CAMT-1</MsgId>"
        "<CreDtTm>2026-03-10T18:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N-1</Id>"
        "<CreDtTm>2026-03-10T18:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{factories.VALID_IBAN}</IBAN></Id></Acct>"
        f"{''.join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def transfer_entry(line: PaymentLine, amount=None, **options) -> str:
    amount = line.amount if amount is None else amount
    status = options.pop("status", "BOOK")
    return camt_entry(
        camt_transaction(line.end_to_end_id, amount, **options), amount, status=status
    )


@pytest.mark.django_db
def test_camt054_marks_matching_transfers_paid_and_reports_the_rest():
    batch, _xml = exported([order(1), order(2), order(3)])
    first, second, third = batch.lines.order_by("pk")
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(
            transfer_entry(first, message_id=batch.message_id),
            transfer_entry(second, Decimal("19.99")),
            transfer_entry(third, status="PDNG"),
            camt_entry(camt_transaction("ALTRO-BONIFICO-1", "5.00"), "5.00"),
            camt_entry(camt_transaction(first.end_to_end_id, "1.00"), "1.00", indicator="CRDT"),
        )
    )
    assert report.paid == [first.end_to_end_id]
    assert [(m.reference, m.expected, m.reported) for m in report.amount_mismatches] == [
        (second.end_to_end_id, Decimal("10.02"), Decimal("19.99"))
    ]
    assert report.not_booked == [third.end_to_end_id]
    assert report.unknown_ids == ["ALTRO-BONIFICO-1"]
    assert report.batches_paid == []
    assert list(batch.lines.exclude(paid_at=None).values_list("pk", flat=True)) == [first.pk]
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED

    # The next day's notification brings the rest: the batch is paid.
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(second), transfer_entry(third))
    )
    assert report.paid == [second.end_to_end_id, third.end_to_end_id]
    assert report.batches_paid == [batch.message_id]
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.PAID and batch.paid_at is not None

    # The same file again changes nothing.
    paid_at = batch.paid_at
    again = payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(second), transfer_entry(third))
    )
    assert (again.paid, again.batches_paid) == ([], [])
    assert again.already_paid == [second.end_to_end_id, third.end_to_end_id]
    batch.refresh_from_db()
    assert batch.paid_at == paid_at


@pytest.mark.django_db
def test_camt054_with_another_message_id_for_a_known_transfer_is_unknown():
    batch, _xml = exported([order(1)])
    line = batch.lines.get()
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(line, message_id="BC-ALTRA-DISTINTA"))
    )
    assert report.unknown_ids == [line.end_to_end_id] and report.paid == []


@pytest.mark.django_db
def test_camt054_in_another_currency_is_a_mismatch():
    batch, _xml = exported([order(1)])
    line = batch.lines.get()
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(line, currency="CHF"))
    )
    assert [m.currency for m in report.amount_mismatches] == ["CHF"]
    assert not PaymentLine.objects.exclude(paid_at=None).exists()


@pytest.mark.django_db
def test_camt054_for_a_batch_not_yet_exported_marks_nothing():
    batch = released([order(1)])
    line = batch.lines.get()
    report = payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line)))
    assert report.not_exported == [line.end_to_end_id]
    line.refresh_from_db()
    assert line.paid_at is None


def batch_booking(batch: PaymentBatch, total, count=None) -> str:
    count = batch.transfers_count if count is None else count
    details = (
        f"<Btch><MsgId>{batch.message_id}</MsgId><PmtInfId>{batch.payment_information_id}"
        f'</PmtInfId><NbOfTxs>{count}</NbOfTxs><TtlAmt Ccy="EUR">{total}</TtlAmt></Btch>'
    )
    return camt_entry(details, total)


@pytest.mark.django_db
def test_camt054_batch_booking_pays_the_whole_batch_when_the_total_matches():
    wrong, _ = exported([order(1), order(2)])
    right, _ = exported([order(3), order(4)])
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(batch_booking(wrong, "20.00"), batch_booking(right, right.total))
    )
    assert [m.reference for m in report.amount_mismatches] == [wrong.message_id]
    assert report.batches_paid == [right.message_id]
    assert sorted(report.paid) == sorted(right.lines.values_list("end_to_end_id", flat=True))
    assert PaymentBatch.objects.get(pk=wrong.pk).status == PaymentBatch.Status.EXPORTED
    assert PaymentBatch.objects.get(pk=right.pk).status == PaymentBatch.Status.PAID
    again = payment_batch_reconcile_camt054(xml_bytes=camt054(batch_booking(right, right.total)))
    assert again.already_paid == [right.message_id] and again.paid == []


@pytest.mark.django_db
def test_camt054_batch_booking_with_a_different_number_of_transfers_is_a_mismatch():
    batch, _ = exported([order(1), order(2)])
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(batch_booking(batch, batch.total, count=3))
    )
    assert [m.reference for m in report.amount_mismatches] == [batch.message_id]


@pytest.mark.parametrize(
    "xml",
    [
        b"not xml",
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>',
        f'<Document xmlns="{CAMT_NAMESPACE}"><Other/></Document>'.encode(),
        b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>',
    ],
)
def test_a_file_that_is_not_a_camt054_notification_is_refused_with_invalid_camt(xml):
    with refused("invalid_camt"):
        camt054_debits(xml)


def test_camt054_reads_the_older_status_and_the_entry_amount_of_a_single_transaction():
    xml = camt054(
        '<Ntry><Amt Ccy="EUR">7.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
        "<NtryDtls><TxDtls><Refs><EndToEndId>E-1</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>"
    ).replace(b"camt.054.001.08", b"camt.054.001.02")
    [debit] = camt054_debits(xml)
    assert (debit.booked, debit.end_to_end_id, debit.amount) == (True, "E-1", Decimal("7.50"))
