"""The cashier's till in a real browser: camera, typed codes, redemption, void, lost answers."""

import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from merchants.errors import RedemptionError
from merchants.models import Merchant, Redemption
from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from tests import factories
from vouchers.codes import group_code
from vouchers.models import Initiative, Voucher

pytestmark = pytest.mark.e2e


@pytest.fixture
def shop(transactional_db):
    """A call with €100 vouchers, a shop of its circuit, its cashier and one voucher."""
    initiative = factories.initiative()
    merchant = factories.merchant(initiative=initiative)
    return SimpleNamespace(
        initiative=initiative,
        merchant=merchant,
        cashier=factories.cashier(shop=merchant),
        voucher=factories.voucher(initiative=initiative),
    )


def log_in(page, base_url: str, cashier) -> None:
    page.goto(f"{base_url}/cassa/accesso/")
    page.get_by_label("Nome utente").fill(cashier.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi alla cassa").click()
    # Enabled once the till's script is ready: nothing can be sent before that.
    expect(page.get_by_role("button", name="Inquadra il QR con la fotocamera")).to_be_enabled()


def check_by_hand(page, code: str) -> None:
    page.get_by_label("Codice del buono").fill(code)
    page.get_by_role("button", name="Verifica").click()


def test_cashier_scans_the_qr_with_the_camera_and_the_balance_falls_by_the_amount(
    live_server, launch_browser, qr_camera, page_errors, shop
):
    voucher = shop.voucher
    page = page_errors.watch(launch_browser(camera=qr_camera(voucher.code)).new_page())
    scans = []
    page.on("request", lambda request: "/api/v1/scan/" in request.url and scans.append(1))
    log_in(page, live_server.url, shop.cashier)
    expect(page.get_by_role("heading", name=shop.merchant.name)).to_be_visible()

    page.get_by_role("button", name="Inquadra il QR con la fotocamera").click()
    expect(page.locator("#holder")).to_have_text(voucher.beneficiary.full_name)
    expect(page.locator("#voucher-balance")).to_have_text("€ 100,00")
    expect(page.locator("#scan-video")).to_be_hidden()  # the camera is off once read
    if not page.evaluate("() => 'BarcodeDetector' in window"):
        assert scans, "without BarcodeDetector the frames must go to /api/v1/scan/"

    expect(page.get_by_label("Importo")).to_be_focused()
    page.get_by_label("Importo").fill("12,50")
    page.get_by_role("button", name="Conferma").click()

    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    expect(page.locator("#receipt-amount")).to_have_text("€ 12,50")
    expect(page.locator("#receipt-balance")).to_have_text("€ 87,50")
    redemption = Redemption.objects.get()
    expect(page.locator("#receipt-number")).to_have_text(redemption.receipt_number)
    expect(page.locator("#today-total")).to_contain_text("€ 12,50")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("87.50")
    assert redemption.amount == Decimal("12.50")
    assert redemption.cashier == shop.cashier
    assert page_errors.errors == []


def test_the_native_barcode_detector_is_used_where_the_browser_has_one(
    live_server, launch_browser, page_errors, shop
):
    context = launch_browser()
    # Desktop Linux Chromium has no BarcodeDetector: stand in one that reads the voucher.
    context.add_init_script(
        "window.BarcodeDetector = class {"
        "  static async getSupportedFormats() { return ['qr_code', 'ean_13']; }"
        "  constructor(options) { window.detectorFormats = options.formats; }"
        f"  async detect(source) {{ return [{{rawValue: '{shop.voucher.code}', format: 'qr_code'}}]; }}"
        "};"
    )
    page = page_errors.watch(context.new_page())
    scans = []
    page.on("request", lambda request: "/api/v1/scan/" in request.url and scans.append(1))
    log_in(page, live_server.url, shop.cashier)
    page.get_by_role("button", name="Inquadra il QR con la fotocamera").click()
    expect(page.locator("#holder")).to_have_text(shop.voucher.beneficiary.full_name)
    assert page.evaluate("() => window.detectorFormats") == ["qr_code"]
    assert scans == []
    assert page_errors.errors == []


def test_typed_code_with_dashes_redeems_a_fixed_denomination_voucher_whole_by_keyboard(
    live_server, launch_browser, page_errors, transactional_db
):
    initiative = factories.initiative(face_value="50.00", partial_allowed=False)
    merchant = factories.merchant(initiative=initiative)
    cashier = factories.cashier(shop=merchant)
    voucher = factories.voucher(initiative=initiative)
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, cashier)

    check_by_hand(page, "ABCDE-FGHJK-MNPQR-STVWX")
    expect(page.locator("#code-error")).to_have_text("Nessun buono corrisponde a questo codice.")
    expect(page.get_by_label("Codice del buono")).to_be_focused()

    page.get_by_label("Codice del buono").fill(group_code(voucher.code).lower())
    page.keyboard.press("Enter")
    expect(page.locator("#holder")).to_have_text(voucher.beneficiary.full_name)
    amount = page.get_by_label("Importo")
    expect(amount).to_have_value("50,00")
    expect(amount).not_to_be_editable()
    expect(page.get_by_role("button", name="Conferma")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_focused()
    expect(page.locator("#receipt-balance")).to_have_text("€ 0,00")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("0.00")
    assert voucher.status == Voucher.Status.EXHAUSTED

    # The same voucher again: the reason in words, no amount field.
    page.get_by_role("button", name="Nuovo buono").click()
    check_by_hand(page, voucher.code)
    refusal = page.locator("#voucher-refusal")
    expect(refusal).to_contain_text("Questo buono non si può usare.")
    expect(refusal).to_contain_text("Il buono è già stato speso tutto.")
    expect(refusal).to_be_focused()
    expect(page.get_by_label("Importo")).to_be_hidden()
    assert Redemption.objects.count() == 1
    assert page_errors.errors == []


def test_cashier_voids_from_the_receipt_and_from_todays_list(
    live_server, launch_browser, page_errors, shop
):
    earlier = voucher_redeem(
        till=Till(merchant=shop.merchant, user=shop.cashier),
        code=shop.voucher.code,
        amount="5.00",
        idempotency_key="earlier-sale",
    ).redemption
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    expect(page.locator("#today-total")).to_contain_text("€ 5,00")

    check_by_hand(page, shop.voucher.code)
    page.get_by_label("Importo").fill("20")
    page.get_by_role("button", name="Conferma").click()
    expect(page.locator("#receipt-balance")).to_have_text("€ 75,00")

    page.get_by_role("button", name="Annulla questo utilizzo").click()
    dialog = page.get_by_role("dialog", name="Annullare questo utilizzo?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="No, torna indietro")).to_be_focused()
    dialog.get_by_role("button", name="Sì, annulla l'utilizzo").click()
    expect(page.get_by_role("heading", name="Utilizzo annullato")).to_be_visible()
    latest = Redemption.objects.exclude(pk=earlier.pk).get()
    assert latest.status == Redemption.Status.VOIDED
    # The list is drawn again after a void; a click while it is replaced could land on the
    # row that moves in. A cashier sees the voided sale marked first, and so does the test.
    expect(page.locator("#today-list")).to_contain_text(f"{latest.receipt_number} €")
    expect(page.locator("#today-list li.voided")).to_have_count(1)

    page.get_by_role("button", name=f"Annulla l'utilizzo {earlier.receipt_number}").click()
    dialog.get_by_role("button", name="Sì, annulla l'utilizzo").click()
    expect(page.locator("#today-status")).to_contain_text(f"{earlier.receipt_number} annullato")
    expect(page.locator("#today-total")).to_contain_text("€ 0,00")
    earlier.refresh_from_db()
    shop.voucher.refresh_from_db()
    assert earlier.status == Redemption.Status.VOIDED
    assert shop.voucher.balance == Decimal("100.00")
    assert page_errors.errors == []


def test_a_busy_day_shows_fifty_sales_and_then_the_earlier_ones(
    live_server, launch_browser, page_errors, shop
):
    till = Till(merchant=shop.merchant, user=shop.cashier)
    sales = [
        voucher_redeem(
            till=till, code=shop.voucher.code, amount="1.00", idempotency_key=f"sale-{n}"
        ).redemption
        for n in range(55)
    ]
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    rows = page.locator("#today-list li")
    expect(page.locator("#today-total")).to_contain_text("utilizzi: 55")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(sales[-1].receipt_number)  # the latest first
    more = page.get_by_role("button", name="Mostra i precedenti")
    more.click()
    expect(rows).to_have_count(55)
    expect(rows.last).to_contain_text(sales[0].receipt_number)
    expect(more).to_be_hidden()
    # The earliest sale of the day can still be cancelled from the list.
    page.get_by_role("button", name=f"Annulla l'utilizzo {sales[0].receipt_number}").click()
    page.get_by_role("dialog").get_by_role("button", name="Sì, annulla l'utilizzo").click()
    expect(page.locator("#today-status")).to_contain_text(f"{sales[0].receipt_number} annullato")
    sales[0].refresh_from_db()
    assert sales[0].status == Redemption.Status.VOIDED
    assert page_errors.errors == []


def test_retry_after_a_lost_answer_charges_the_voucher_once(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser(service_workers="block").new_page())
    keys = []

    def lose_the_first_answer(route):
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server charges the voucher…
            route.abort("connectionreset")  # …but its answer never reaches the till
        else:
            route.continue_()

    page.route("**/api/v1/redemptions/", lose_the_first_answer)
    log_in(page, live_server.url, shop.cashier)
    check_by_hand(page, shop.voucher.code)
    page.get_by_label("Importo").fill("30,00")
    page.get_by_role("button", name="Conferma").click()

    expect(page.get_by_text("Senza connessione: i buoni non si possono incassare")).to_be_visible()
    retry = page.get_by_role("button", name="Riprova")
    expect(retry).to_be_focused()
    expect(page.get_by_role("button", name="Conferma")).to_be_hidden()
    assert Redemption.objects.count() == 1  # it did reach the server

    retry.click()
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    expect(page.locator("#receipt-note")).to_contain_text("non è stato addebitato di nuovo")
    expect(page.get_by_text("Senza connessione")).to_be_hidden()
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
    assert Redemption.objects.count() == 1
    shop.voucher.refresh_from_db()
    assert shop.voucher.balance == Decimal("70.00")
    assert page_errors.errors == []


def test_without_network_the_till_says_so_and_cannot_confirm(
    live_server, launch_browser, page_errors, shop
):
    context = launch_browser()
    page = page_errors.watch(context.new_page())
    log_in(page, live_server.url, shop.cashier)
    check_by_hand(page, shop.voucher.code)
    confirm = page.get_by_role("button", name="Conferma")
    expect(confirm).to_be_enabled()

    context.set_offline(True)
    expect(page.get_by_text("Senza connessione: i buoni non si possono incassare")).to_be_visible()
    expect(confirm).to_be_disabled()

    context.set_offline(False)
    expect(page.get_by_text("Senza connessione")).to_be_hidden()
    expect(confirm).to_be_enabled()
    assert page_errors.errors == []


def test_till_pages_have_no_serious_accessibility_violations(
    live_server, launch_browser, page_errors, axe, screenshot, shop
):
    # Names that read well in the screenshots of the documentation.
    Merchant.objects.filter(pk=shop.merchant.pk).update(name="Alimentari Da Rosa")
    Initiative.objects.filter(pk=shop.initiative.pk).update(title="Buoni spesa 2026")
    shop.cashier.first_name, shop.cashier.last_name = "Giulia", "Neri"
    shop.cashier.save(update_fields=["first_name", "last_name"])
    holder = shop.voucher.beneficiary
    holder.first_name, holder.last_name = "Maria", "Bianchi"
    holder.save(update_fields=["first_name", "last_name"])

    page = page_errors.watch(launch_browser().new_page())
    page.goto(f"{live_server.url}/cassa/accesso/")
    assert axe(page) == []
    screenshot(page, "till-login.png")

    stranger = factories.user()
    page.get_by_label("Nome utente").fill(stranger.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Accedi alla cassa").click()
    expect(page.get_by_role("alert")).to_contain_text("non lavora per un negozio del circuito")
    assert axe(page) == []

    log_in(page, live_server.url, shop.cashier)
    assert axe(page) == []

    check_by_hand(page, shop.voucher.code)
    expect(page.locator("#holder")).to_have_text("Maria Bianchi")
    page.get_by_label("Importo").fill("12,50")
    assert axe(page) == []
    screenshot(page, "till-check.png")

    page.get_by_role("button", name="Conferma").click()
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "till-receipt.png")

    page.get_by_role("button", name="Annulla questo utilizzo").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert axe(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Annulla questo utilizzo")).to_be_focused()

    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    page.get_by_role("button", name="Nuovo buono").click()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    assert page_errors.errors == []


def lose_the_answer_of_the_first_sale(page, *, reaches_server: bool) -> list[str]:
    """Route the redemptions so that the first sale's answer never reaches the till.

    With ``reaches_server`` the server records the sale first; without, the request dies on
    the way. Returns the Idempotency-Keys of the sales sent.
    """
    keys: list[str] = []

    def route(route):
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            if reaches_server:
                route.fetch()  # the server charges the voucher…
            route.abort("connectionreset")  # …but no answer reaches the till
        else:
            route.continue_()

    page.route("**/api/v1/redemptions/", route)
    return keys


def sell(page, code: str, amount: str) -> None:
    check_by_hand(page, code)
    page.get_by_label("Importo").fill(amount)
    page.get_by_role("button", name="Conferma").click()


def test_a_sale_left_without_an_answer_is_resolved_and_the_same_charge_is_not_repeated(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser(service_workers="block").new_page())
    keys = lose_the_answer_of_the_first_sale(page, reaches_server=True)
    lookups = []
    page.on("request", lambda r: "/redemptions/lookup/" in r.url and lookups.append(r))
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("button", name="Riprova")).to_be_focused()
    assert Redemption.objects.count() == 1  # charged, but the till does not know

    page.get_by_role("button", name="Lascia questo buono").click()
    redemption = Redemption.objects.get()
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_focused()
    expect(page.locator("#receipt-note")).to_have_text(
        f"Il pagamento di € 20,00 è andato a buon fine (scontrino {redemption.receipt_number}): "
        "non addebitarlo di nuovo."
    )
    # Asked with the sale's own key, not sent again.
    assert [r.method for r in lookups] == ["GET"]
    assert lookups[0].headers["idempotency-key"] == keys[0]
    assert len(keys) == 1

    # The customer is still there and the cashier reads the same voucher for the same amount.
    page.get_by_role("button", name="Nuovo buono").click()
    sell(page, shop.voucher.code, "20")
    dialog = page.get_by_role("dialog", name="Addebitare di nuovo questo buono?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(
        f"già stato addebitato di € 20,00 alle {redemption.created_at.astimezone():%H:%M}"
    )
    expect(dialog).to_contain_text(redemption.receipt_number)
    expect(dialog.get_by_role("button", name="No, non addebitare")).to_be_focused()
    dialog.get_by_role("button", name="No, non addebitare").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Importo")).to_be_focused()

    assert len(keys) == 1
    assert Redemption.objects.count() == 1
    shop.voucher.refresh_from_db()
    assert shop.voucher.balance == Decimal("80.00")
    assert page_errors.errors == []


def test_a_sale_whose_answer_was_lost_is_resolved_after_a_reload_before_any_new_sale(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser(service_workers="block").new_page())
    keys = lose_the_answer_of_the_first_sale(page, reaches_server=True)
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("button", name="Riprova")).to_be_visible()

    # The server cannot be asked at first: the till says so and reads no voucher meanwhile.
    page.route("**/api/v1/redemptions/lookup/", lambda route: route.abort("internetdisconnected"))
    page.reload()
    expect(page.get_by_role("heading", name="Un pagamento è in sospeso")).to_be_visible()
    expect(page.locator("#pending-text")).to_contain_text(
        "Non sappiamo ancora se il pagamento di € 20,00"
    )
    expect(page.get_by_label("Codice del buono")).to_be_hidden()
    check_again = page.get_by_role("button", name="Verifica di nuovo")
    expect(check_again).to_be_focused()

    page.unroute("**/api/v1/redemptions/lookup/")
    check_again.click()
    redemption = Redemption.objects.get()
    expect(page.locator("#receipt-note")).to_contain_text(
        f"è andato a buon fine (scontrino {redemption.receipt_number})"
    )
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")

    # Once known, a reload finds nothing pending.
    page.reload()
    expect(page.get_by_label("Codice del buono")).to_be_visible()
    expect(page.locator("#pending")).to_be_hidden()
    assert len(keys) == 1
    shop.voucher.refresh_from_db()
    assert shop.voucher.balance == Decimal("80.00")
    assert page_errors.errors == []


def test_a_sale_that_never_reached_the_server_is_told_as_not_charged_and_can_be_made(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser(service_workers="block").new_page())
    keys = lose_the_answer_of_the_first_sale(page, reaches_server=False)
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("button", name="Riprova")).to_be_visible()
    page.reload()

    notice = page.locator("#read-notice")
    # Asked once: the answer "not found" is final.
    expect(notice).to_have_text(
        f"Il pagamento di € 20,00 ({shop.voucher.beneficiary.full_name}) non è arrivato: nulla "
        "è stato addebitato."
    )
    expect(notice).to_be_focused()
    assert Redemption.objects.count() == 0

    # Nothing was charged, so the same sale asks no "charge again?".
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")
    assert len(keys) == 2 and keys[0] != keys[1]
    assert Redemption.objects.count() == 1
    assert page_errors.errors == []


def test_charging_the_same_voucher_the_same_amount_again_asks_first(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")

    # Another amount is another purchase: no question.
    page.get_by_role("button", name="Nuovo buono").click()
    sell(page, shop.voucher.code, "5")
    expect(page.locator("#receipt-balance")).to_have_text("€ 75,00")

    # The same amount again, even after a reload and with the code typed another way.
    page.reload()
    page.get_by_role("button", name="Inquadra il QR con la fotocamera").wait_for()
    sell(page, group_code(shop.voucher.code).lower(), "20.00")
    dialog = page.get_by_role("dialog", name="Addebitare di nuovo questo buono?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Sì, addebita di nuovo").click()
    expect(page.locator("#receipt-balance")).to_have_text("€ 55,00")
    assert Redemption.objects.count() == 3
    assert page_errors.errors == []


def test_a_voided_sale_no_longer_asks_before_charging_the_same_amount(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    page.get_by_role("button", name="Annulla questo utilizzo").click()
    page.get_by_role("dialog").get_by_role("button", name="Sì, annulla l'utilizzo").click()
    expect(page.get_by_role("heading", name="Utilizzo annullato")).to_be_visible()
    page.get_by_role("button", name="Nuovo buono").click()
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")
    assert page_errors.errors == []


def qr_photo(code: str, path, *, size=(800, 600)):
    """A photo of a voucher's QR on a white table, as a phone's camera would save it."""
    from PIL import Image

    from vouchers.qr import voucher_qr_png

    photo = Image.new("RGB", size, "white")
    with Image.open(io.BytesIO(voucher_qr_png(code, scale=10))) as qr:
        qr = qr.convert("RGB")
        photo.paste(qr, ((size[0] - qr.width) // 2, (size[1] - qr.height) // 2))
    photo.save(path)
    return path


@pytest.mark.parametrize("size", [(800, 600), (4000, 3000)], ids=["small", "large"])
def test_a_photo_of_the_qr_reads_the_voucher_when_the_camera_does_not_stream(
    live_server, launch_browser, page_errors, shop, tmp_path, size
):
    context = launch_browser()
    # A phone whose camera refuses the page; the picture sent is kept to look at.
    context.add_init_script(
        "const send = window.fetch; window.fetch = (url, init) => {"
        "  if (init && init.body instanceof FormData) window.sentImage = init.body.get('image');"
        "  return send(url, init); };"
    )
    context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('', 'NotReadableError'));"
    )
    page = page_errors.watch(context.new_page())
    uploads = []
    page.on("request", lambda r: "/api/v1/scan/" in r.url and uploads.append(r))
    log_in(page, live_server.url, shop.cashier)
    page.get_by_role("button", name="Inquadra il QR con la fotocamera").click()
    expect(page.locator("#scan-status")).to_contain_text("La fotocamera non si apre")

    photo = page.get_by_label("Fotografa il QR")
    expect(photo).to_have_attribute("accept", "image/*")
    expect(photo).to_have_attribute("capture", "environment")
    photo.set_input_files(qr_photo(shop.voucher.code, tmp_path / "photo.png", size=size))
    expect(page.locator("#holder")).to_have_text(shop.voucher.beneficiary.full_name)
    expect(page.get_by_label("Importo")).to_be_focused()
    assert len(uploads) == 1
    if size[0] > 2000:  # sent smaller than taken
        sent = page.evaluate("() => [window.sentImage.type, window.sentImage.size]")
        assert sent[0] == "image/jpeg"
        assert 0 < sent[1] < (tmp_path / "photo.png").stat().st_size
    assert page_errors.errors == []


def test_a_photo_the_server_cannot_read_shows_its_reason_to_the_cashier(
    live_server, launch_browser, page_errors, shop, tmp_path
):
    from PIL import Image

    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    photo = page.get_by_label("Fotografa il QR")

    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)
    photo.set_input_files(blank)
    error = page.locator("#photo-error")
    expect(error).to_have_text("Nessun QR di un buono nell'immagine: avvicina il buono e riprova.")
    expect(photo).to_be_focused()

    not_a_picture = tmp_path / "note.png"
    not_a_picture.write_text("not a picture")
    photo.set_input_files(not_a_picture)
    expect(error).not_to_have_text(
        "Nessun QR di un buono nell'immagine: avvicina il buono e riprova."
    )
    expect(error).not_to_be_empty()
    expect(page.locator("#voucher")).to_be_hidden()

    # Typing the code still works, and clears the photo's error.
    check_by_hand(page, shop.voucher.code)
    expect(page.locator("#holder")).to_have_text(shop.voucher.beneficiary.full_name)
    expect(error).to_be_empty()
    assert page_errors.errors == []


def test_a_voided_receipt_shows_the_balance_with_the_amount_back(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")
    page.get_by_role("button", name="Annulla questo utilizzo").click()
    page.get_by_role("dialog").get_by_role("button", name="Sì, annulla l'utilizzo").click()
    expect(page.get_by_role("heading", name="Utilizzo annullato")).to_be_focused()
    expect(page.locator("#receipt-balance")).to_have_text("€ 100,00")
    shop.voucher.refresh_from_db()
    assert shop.voucher.balance == Decimal("100.00")
    assert page_errors.errors == []


def test_a_voucher_of_another_circuit_has_a_heading_and_no_name_to_compare(
    live_server, launch_browser, page_errors, shop
):
    elsewhere = factories.voucher(initiative=factories.initiative())
    page = page_errors.watch(launch_browser().new_page())
    log_in(page, live_server.url, shop.cashier)
    check_by_hand(page, elsewhere.code)
    expect(page.locator("#voucher-refusal")).to_contain_text(
        "Questo negozio non fa parte del circuito del bando di questo buono."
    )
    expect(page.get_by_role("heading", level=2, name="Buono di un altro circuito")).to_be_visible()
    expect(page.get_by_text("Intestatario del buono")).to_be_hidden()
    expect(page.get_by_text("Confronta il nome con un documento d'identità.")).to_be_hidden()
    expect(page.get_by_label("Importo")).to_be_hidden()

    # The next voucher, of this circuit, is named again.
    page.get_by_role("button", name="Lascia questo buono").click()
    check_by_hand(page, shop.voucher.code)
    expect(page.locator("#holder")).to_have_text(shop.voucher.beneficiary.full_name)
    expect(page.get_by_text("Intestatario del buono")).to_be_visible()
    assert page_errors.errors == []


def test_the_till_reloaded_without_network_shows_the_apps_offline_page(
    live_server, launch_browser, page_errors, shop
):
    context = launch_browser()
    page = page_errors.watch(context.new_page())
    log_in(page, live_server.url, shop.cashier)
    page.wait_for_function(
        "async () => (await navigator.serviceWorker.ready).active !== null"
        " && navigator.serviceWorker.controller !== null"
    )
    context.set_offline(True)
    page.reload()
    expect(
        page.get_by_role("heading", level=1, name="La cassa è senza connessione")
    ).to_be_visible()
    expect(page.get_by_text("nulla viene addebitato")).to_be_visible()
    expect(page.get_by_text("Senza connessione: i buoni non si possono incassare")).to_be_visible()

    context.set_offline(False)
    page.get_by_role("link", name="Riapri la cassa").click()
    expect(page.get_by_role("heading", level=1, name=shop.merchant.name)).to_be_visible()
    expect(page.get_by_label("Codice del buono")).to_be_visible()
    assert page_errors.errors == []


def test_a_sale_held_up_on_its_way_after_the_till_was_told_not_charged_is_refused(
    live_server, launch_browser, page_errors, shop
):
    page = page_errors.watch(launch_browser(service_workers="block").new_page())
    keys = lose_the_answer_of_the_first_sale(page, reaches_server=False)
    answers = []
    late = []

    def land_the_sale_after_the_answer(route):
        response = route.fetch()
        answers.append(response.status)
        # The sale, held up by a proxy, reaches the server just after the look-up's answer.
        try:
            voucher_redeem(
                till=Till(merchant=shop.merchant, user=shop.cashier),
                code=shop.voucher.code,
                amount="20.00",
                idempotency_key=keys[0],
            )
        except RedemptionError as error:
            late.append(error.code)
        route.fulfill(response=response)

    page.route("**/api/v1/redemptions/lookup/", land_the_sale_after_the_answer)
    log_in(page, live_server.url, shop.cashier)
    sell(page, shop.voucher.code, "20,00")
    page.get_by_role("button", name="Lascia questo buono").click()
    notice = page.locator("#read-notice")
    expect(notice).to_have_text(
        f"Il pagamento di € 20,00 ({shop.voucher.beneficiary.full_name}) non è arrivato: nulla "
        "è stato addebitato."
    )
    # What the till said stays true: the late sale was refused and charged nothing.
    assert answers == [404]
    assert late == ["idempotency_key_closed"]
    assert Redemption.objects.count() == 0
    shop.voucher.refresh_from_db()
    assert shop.voucher.balance == Decimal("100.00")

    # The cashier makes the sale again, once.
    sell(page, shop.voucher.code, "20,00")
    expect(page.get_by_role("heading", name="Pagamento registrato")).to_be_visible()
    expect(page.locator("#receipt-balance")).to_have_text("€ 80,00")
    assert Redemption.objects.count() == 1
    assert page_errors.errors == []
