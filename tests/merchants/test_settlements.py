"""Settlement runs, statements and the payment batches that pay shops, through to the ledger."""

import io
from datetime import timedelta
from decimal import Decimal

import pypdfium2
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from core.errors import DomainError
from core.models import Journal, PaymentBatch, PaymentLine
from core.selectors import account_balance, money_sum, unbalanced_journals
from core.sepa import NAMESPACE, validate_pain001
from core.services.payments import (
    PaymentError,
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)
from core.services.reconciliation import payment_batch_reconcile_camt054
from merchants.models import Merchant, Redemption, Settlement
from merchants.selectors import merchant_payable, settlements_awaiting_payment
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import (
    SettlementError,
    merchant_payment_batch_prepare,
    settlements_run,
)
from merchants.services.tills import Till
from merchants.services.voids import redemption_void
from merchants.statements import settlement_statement_pdf
from tests import factories
from tests.core.test_sepa import camt054, transfer_entry

pytestmark = pytest.mark.django_db

NS = {"p": NAMESPACE}


def sell(shop: Merchant, voucher, amount: str) -> Redemption:
    return voucher_redeem(
        till=Till(merchant=shop),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"k{factories.next_id()}",
    ).redemption


@pytest.fixture
def programme(circuit):
    """Two shops in the circuit with a few sales each, and one voided sale."""
    initiative = circuit["initiative"]
    first = circuit["merchant"]
    first.legal_name = "Caffè dell'Àngolo Società Coop. a r.l."
    first.street = "Via dell'Università, 12/B"
    first.town = "Forlì"
    first.postal_code = "47121"
    first.save()
    second = factories.merchant(initiative=initiative)
    vouchers = [circuit["voucher"], *(factories.voucher(initiative=initiative) for _ in range(2))]
    sales = [
        sell(first, vouchers[0], "12.34"),
        sell(first, vouchers[1], "0.01"),
        sell(first, vouchers[2], "33.33"),
        sell(second, vouchers[0], "40.00"),
    ]
    voided = sell(second, vouchers[1], "5.00")
    redemption_void(till=Till(merchant=second), redemption_id=voided.pk)
    return {"shops": [first, second], "vouchers": vouchers, "sales": sales, "voided": voided}


def ledger_is_balanced() -> bool:
    return not unbalanced_journals().exists()


# --- Settlement runs ---------------------------------------------------------------------------


def test_a_run_settles_each_shop_the_exact_sum_of_its_confirmed_redemptions(programme):
    first, second = programme["shops"]
    person = factories.user()
    settlements = settlements_run(prepared_by=person)
    assert [s.merchant for s in settlements] == [first, second]
    assert [(s.total, s.redemptions_count) for s in settlements] == [
        (Decimal("45.68"), 3),
        (Decimal("40.00"), 1),
    ]
    for settlement in settlements:
        assert settlement.created_by == person
        assert settlement.total == money_sum(settlement.redemptions.all())
        assert merchant_payable(merchant_id=settlement.merchant_id) == Decimal("0.00")
        assert account_balance(key=settlement.merchant.settled_account_key) == settlement.total
    assert Redemption.objects.get(pk=programme["voided"].pk).settlement is None
    assert ledger_is_balanced()


def test_a_second_run_with_nothing_new_settles_nothing(programme):
    assert len(settlements_run()) == 2
    assert settlements_run() == []
    first = programme["shops"][0]
    sell(first, programme["vouchers"][0], "1.50")
    [later] = settlements_run()
    assert (later.merchant, later.total) == (first, Decimal("1.50"))


def test_a_run_stops_at_its_cutoff_and_can_be_limited_to_some_shops(programme):
    first, second = programme["shops"]
    late = programme["sales"][2]
    Redemption.objects.filter(pk=late.pk).update(created_at=timezone.now() + timedelta(hours=2))
    [settlement] = settlements_run(merchants=[first], until=timezone.now())
    assert (settlement.total, settlement.redemptions_count) == (Decimal("12.35"), 2)
    assert Redemption.objects.get(pk=late.pk).settlement is None
    assert merchant_payable(merchant_id=second.pk) == Decimal("40.00")
    assert [s.merchant for s in settlements_run(until=timezone.now() + timedelta(hours=3))] == [
        first,
        second,
    ]


def test_a_suspended_shop_is_settled_and_a_rejected_one_is_not(programme):
    first, second = programme["shops"]
    Merchant.objects.filter(pk=first.pk).update(status=Merchant.Status.SUSPENDED)
    Merchant.objects.filter(pk=second.pk).update(status=Merchant.Status.REJECTED)
    assert [s.merchant_id for s in settlements_run()] == [first.pk]


# --- Statement -----------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_the_statement_lists_every_redemption_and_the_total(programme):
    settlement = settlements_run()[0]
    data = settlement_statement_pdf(settlement)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert f"Estratto della liquidazione n. {settlement.pk}" in text
    assert "Caffè dell'Àngolo Società Coop. a r.l." in text
    for redemption in settlement.redemptions.all():
        assert redemption.receipt_number in text
        assert redemption.voucher.code[-4:] in text
    assert "12,34" in text and "0,01" in text and "33,33" in text
    assert "Totale: 3 utilizzi" in text and "45,68" in text
    english = pdf_text(settlement_statement_pdf(settlement, language="en"))
    assert "Estratto" not in english and str(settlement.pk) in english


def test_a_long_statement_runs_over_several_pages(circuit):
    shop = circuit["merchant"]
    for _ in range(3):
        voucher = factories.voucher(initiative=circuit["initiative"])
        for _ in range(25):
            sell(shop, voucher, "1.00")
    [settlement] = settlements_run()
    document = pypdfium2.PdfDocument(settlement_statement_pdf(settlement))
    assert len(document) >= 2
    document.close()


# --- Payment batches ------------------------------------------------------------------------------


def test_a_merchant_batch_pays_each_settlement_its_exact_total_without_fees(programme):
    settlements = settlements_run()
    batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    assert batch.kind == PaymentBatch.Kind.MERCHANT_SETTLEMENTS
    redeemed = money_sum(Redemption.objects.filter(status=Redemption.Status.CONFIRMED))
    assert batch.total == redeemed == Decimal("85.68")
    assert batch.transfers_count == 2
    lines = list(batch.lines.order_by("pk"))
    for settlement, line in zip(settlements, lines, strict=True):
        settlement.refresh_from_db()
        assert settlement.payment_line == line
        assert line.amount == settlement.total
        assert line.merchant_ref == settlement.merchant_id
        assert line.creditor_iban == settlement.merchant.iban
    caffe = lines[0]
    assert caffe.creditor_name == "Caffe dell'Angolo Societa Coop. a r.l."
    assert (caffe.street, caffe.building_number, caffe.postcode, caffe.town, caffe.country) == (
        "Via dell'Universita",
        "12/B",
        "47121",
        "Forli",
        "IT",
    )
    today = timezone.localdate().strftime("%d/%m/%Y")
    assert caffe.remittance == f"Liquidazione BuonoComune n. {settlements[0].pk} del {today}"
    assert lines[1].creditor_name == settlements[1].merchant.name  # no legal name: the sign
    assert not settlements_awaiting_payment().exists()


def test_the_remittance_names_the_period_of_the_redemptions(programme):
    first = programme["sales"][0]
    Redemption.objects.filter(pk=first.pk).update(created_at=first.created_at - timedelta(days=6))
    settlement = settlements_run(merchants=[programme["shops"][0]])[0]
    batch = merchant_payment_batch_prepare(settlements=[settlement], prepared_by=factories.user())
    start = timezone.localdate(first.created_at - timedelta(days=6)).strftime("%d/%m/%Y")
    end = timezone.localdate().strftime("%d/%m/%Y")
    assert batch.lines.get().remittance == (
        f"Liquidazione BuonoComune n. {settlement.pk} dal {start} al {end}"
    )


def test_a_settlement_goes_in_one_batch_only_until_that_batch_is_cancelled(programme):
    settlements = settlements_run()
    first = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    with pytest.raises(SettlementError) as info:
        merchant_payment_batch_prepare(settlements=settlements[:1], prepared_by=factories.user())
    assert info.value.code == "already_in_batch"
    assert PaymentBatch.objects.count() == 1
    payment_batch_cancel(batch=first, by=factories.user(), reason="IBAN da verificare")
    assert set(settlements_awaiting_payment()) == set(settlements)
    second = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    assert Settlement.objects.filter(payment_line__batch=second).count() == 2


def test_a_batch_of_no_settlements_is_refused():
    with pytest.raises(SettlementError) as info:
        merchant_payment_batch_prepare(settlements=[], prepared_by=factories.user())
    assert info.value.code == "no_settlements"


def release_and_export(batch: PaymentBatch) -> bytes:
    payment_batch_release(batch=batch, released_by=factories.user())
    out = io.BytesIO()
    payment_batch_export(batch=batch, out=out)
    return out.getvalue()


def test_from_sale_to_payment_the_ledger_stays_balanced_and_the_shop_is_paid(programme):
    settlements = settlements_run()
    preparer = factories.user()
    batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=preparer)
    with pytest.raises(PaymentError) as info:
        payment_batch_release(batch=batch, released_by=preparer)
    assert info.value.code == "four_eyes"
    xml = release_and_export(batch)
    validate_pain001(xml)
    root = etree.fromstring(xml)
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "85.68"
    assert [n.text for n in root.iterfind(".//p:Cdtr/p:Nm", NS)][0] == (
        "Caffe dell'Angolo Societa Coop. a r.l."
    )
    payment_batch_mark_paid(batch=batch, by=factories.user())
    for settlement in settlements:
        merchant = settlement.merchant
        assert merchant_payable(merchant_id=merchant.pk) == Decimal("0.00")
        assert account_balance(key=merchant.settled_account_key) == Decimal("0.00")
        assert account_balance(key=f"merchant:{merchant.pk}:paid") == settlement.total
    journal = Journal.objects.get(kind=Journal.Kind.SETTLEMENT_PAID)
    assert set(batch.lines.values_list("journal", flat=True)) == {journal.pk}
    assert money_sum(journal.postings.filter(amount__gt=0)) == Decimal("85.68")
    assert ledger_is_balanced()
    payment_batch_mark_paid(batch=batch, by=factories.user())
    assert Journal.objects.filter(kind=Journal.Kind.SETTLEMENT_PAID).count() == 1


def test_a_camt054_notification_pays_the_shops_it_confirms(programme):
    settlements = settlements_run()
    batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    release_and_export(batch)
    first_line, second_line = batch.lines.order_by("pk")
    report = payment_batch_reconcile_camt054(
        xml_bytes=camt054(transfer_entry(first_line), transfer_entry(second_line, "39.99"))
    )
    assert report.paid == [first_line.end_to_end_id]
    assert [m.reference for m in report.amount_mismatches] == [second_line.end_to_end_id]
    first, second = (s.merchant for s in settlements)
    assert account_balance(key=f"merchant:{first.pk}:paid") == Decimal("45.68")
    assert account_balance(key=first.settled_account_key) == Decimal("0.00")
    assert account_balance(key=second.settled_account_key) == Decimal("40.00")
    assert account_balance(key=f"merchant:{second.pk}:paid") == Decimal("0.00")
    assert ledger_is_balanced()
    report = payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(second_line)))
    assert report.batches_paid == [batch.message_id]
    assert account_balance(key=f"merchant:{second.pk}:paid") == Decimal("40.00")
    assert ledger_is_balanced()


def test_a_merchant_batch_with_awkward_names_and_many_lines_is_valid(circuit):
    initiative = circuit["initiative"]
    voucher = factories.voucher(initiative=initiative)
    names = [
        "Caffè dell'Àngolo Società Coop. a r.l.",
        "Panificio «Il Forno» di Nicolò & Figli S.n.c. — dal 1952, pane, pizza, focacce e dolci "
        "della tradizione",
        "L’Oréal Profumeria d'Annunzio",
    ]
    shops = []
    for number in range(60):
        shop = factories.merchant(initiative=initiative)
        shop.legal_name = names[number % 3]
        shop.save(update_fields=["legal_name"])
        sell(shop, voucher, "1.01")
        shops.append(shop)
    settlements = settlements_run()
    assert len(settlements) == 60
    batch = merchant_payment_batch_prepare(settlements=settlements, prepared_by=factories.user())
    xml = release_and_export(batch)
    validate_pain001(xml)
    root = etree.fromstring(xml)
    names_in_file = [n.text for n in root.iterfind(".//p:Cdtr/p:Nm", NS)]
    assert len(names_in_file) == 60
    assert max(len(name) for name in names_in_file) == 70
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "60.60"


# --- Commands --------------------------------------------------------------------------------------


def test_settle_merchants_prints_what_it_settled_and_a_second_run_settles_nothing(programme):
    out = io.StringIO()
    call_command("settle_merchants", stdout=out)
    text = out.getvalue()
    assert "Liquidazioni create: 2" in text
    assert "45,68" in text and "40,00" in text
    again = io.StringIO()
    call_command("settle_merchants", stdout=again)
    assert "Nessun utilizzo da liquidare." in again.getvalue()
    assert Settlement.objects.count() == 2
    assert ledger_is_balanced()


def test_settle_merchants_takes_a_cutoff_a_shop_and_a_user(programme):
    first, _second = programme["shops"]
    person = factories.user(username="operatore")
    out = io.StringIO()
    call_command(
        "settle_merchants",
        "--merchant",
        str(first.pk),
        "--until",
        timezone.localdate().isoformat(),
        "--user",
        "operatore",
        stdout=out,
    )
    assert Settlement.objects.get().created_by == person
    with pytest.raises(CommandError, match="Data non valida"):
        call_command("settle_merchants", "--until", "ieri")
    for far in ("9999-12-31", "0001-01-01T10:00"):
        with pytest.raises(CommandError, match="Scegli un giorno tra il 01/01/2000"):
            call_command("settle_merchants", "--until", far)
    with pytest.raises(CommandError, match="inesistente"):
        call_command("settle_merchants", "--user", "nessuno")


@pytest.mark.parametrize("command", ["settle_merchants", "export_payment_batch"])
def test_the_commands_explain_themselves_with_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        call_command(command, "--help")
    assert info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_export_payment_batch_refuses_a_batch_not_released(programme, tmp_path):
    batch = merchant_payment_batch_prepare(
        settlements=settlements_run(), prepared_by=factories.user()
    )
    target = tmp_path / "distinta.xml"
    with pytest.raises(CommandError, match="si esporta solo una distinta autorizzata"):
        call_command("export_payment_batch", str(batch.pk), "--out", str(target))
    assert not target.exists()
    with pytest.raises(CommandError, match="inesistente"):
        call_command("export_payment_batch", "999999", "--out", str(target))


def test_export_payment_batch_writes_the_same_valid_file_each_time(programme, tmp_path):
    batch = merchant_payment_batch_prepare(
        settlements=settlements_run(), prepared_by=factories.user()
    )
    payment_batch_release(batch=batch, released_by=factories.user())
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    out = io.StringIO()
    call_command("export_payment_batch", str(batch.pk), "--out", str(first), stdout=out)
    assert batch.message_id in out.getvalue()
    call_command("export_payment_batch", str(batch.pk), "--out", str(second), stdout=io.StringIO())
    assert first.read_bytes() == second.read_bytes()
    validate_pain001(first)
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED
    assert not list(tmp_path.glob("*.part"))


# --- Property: the books agree whatever happens ---------------------------------------------

# Each round: some sales, a settlement run, then a batch of what awaits payment taken as far
# as the outcome says (cancelled ones leave their settlements for the next round's batch).
OUTCOMES = ["none", "prepared", "released", "exported", "paid", "camt", "cancelled"]
rounds = st.tuples(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(1, 4000)), max_size=4),
    st.booleans(),  # settle this round
    st.sampled_from(OUTCOMES),
)


def assert_money_out_books_agree(shops: list[Merchant]) -> None:
    assert ledger_is_balanced()
    for shop in shops:
        confirmed = Redemption.objects.filter(merchant=shop, status=Redemption.Status.CONFIRMED)
        paid = money_sum(PaymentLine.objects.filter(merchant_ref=shop.pk).exclude(paid_at=None))
        settled = money_sum(Settlement.objects.filter(merchant=shop), "total")
        payable = merchant_payable(merchant_id=shop.pk)
        assert payable == money_sum(confirmed.filter(settlement=None))
        assert account_balance(key=shop.settled_account_key) == settled - paid
        assert account_balance(key=f"merchant:{shop.pk}:paid") == paid
        assert payable + (settled - paid) + paid == money_sum(confirmed)
    for settlement in Settlement.objects.select_related("payment_line"):
        assert settlement.total == money_sum(settlement.redemptions.all())
        if settlement.payment_line is not None:
            assert settlement.payment_line.amount == settlement.total
    for batch in PaymentBatch.objects.all():
        all_paid = not batch.lines.filter(paid_at=None).exists()
        assert (batch.status == PaymentBatch.Status.PAID) == all_paid
        assert batch.total == money_sum(batch.lines.all())


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(rounds, min_size=1, max_size=6))
def test_sales_settlements_batches_and_payments_keep_every_shop_s_books_exact(plan):
    with transaction.atomic():
        initiative = factories.initiative(face_value="100.00", budget="3000.00")
        shops = [factories.merchant(initiative=initiative) for _ in range(2)]
        vouchers = [factories.voucher(initiative=initiative) for _ in range(3)]
        preparer, checker = factories.user(), factories.user()
        for sales, settle, outcome in plan:
            for shop, voucher, cents in sales:
                try:
                    sell(shops[shop], vouchers[voucher], str(Decimal(cents) / 100))
                except DomainError:
                    pass  # more than the balance: refused, nothing changes
            if settle:
                settlements_run()
            awaiting = list(settlements_awaiting_payment())
            if outcome == "none" or not awaiting:
                continue
            batch = merchant_payment_batch_prepare(settlements=awaiting, prepared_by=preparer)
            if outcome == "cancelled":
                payment_batch_cancel(batch=batch, by=checker, reason="prova")
            if outcome in ("released", "exported", "paid", "camt"):
                payment_batch_release(batch=batch, released_by=checker)
            if outcome in ("exported", "paid", "camt"):
                payment_batch_export(batch=batch, out=io.BytesIO())
            if outcome == "paid":
                payment_batch_mark_paid(batch=batch, by=checker)
            if outcome == "camt":
                line = batch.lines.order_by("pk").first()
                payment_batch_reconcile_camt054(xml_bytes=camt054(transfer_entry(line)))
        assert_money_out_books_agree(shops)
        for status in set(PaymentBatch.objects.values_list("status", flat=True)):
            event(f"a batch ends {status}")
        transaction.set_rollback(True)
