// The cashier's till: read a voucher (camera, a photo or typed code), check it, redeem, void.
// Every rule lives on the server; this file only talks to the redemption API and shows
// its answers. A sale keeps its Idempotency-Key until its outcome is known, so a retry
// after a lost response never charges twice, and on the device until the server says
// whether that sale was recorded.
(function () {
  "use strict";
  var root = document.getElementById("till");
  if (!root) return;
  // The names xgettext looks for; the catalogue at /cassa/jsi18n/ defines both.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values, named) {
    return named ? text.replace(/%\((\w+)\)s/g, function (m, key) { return values[key]; })
      : text.replace(/%s/g, function () { return values.shift(); });
  };
  var conf = root.dataset;
  var lang = document.documentElement.lang || "it";
  var $ = function (id) { return document.getElementById(id); };
  var el = {
    read: $("read"), scanStart: $("scan-start"), scanStop: $("scan-stop"), video: $("scan-video"),
    scanStatus: $("scan-status"), codeForm: $("code-form"), code: $("code"),
    photo: $("photo"), photoError: $("photo-error"),
    codeError: $("code-error"), voucher: $("voucher"), holder: $("holder"),
    balance: $("voucher-balance"), validity: $("voucher-validity"),
    initiative: $("voucher-initiative"), refusal: $("voucher-refusal"), reason: $("voucher-reason"),
    saleForm: $("sale-form"), amount: $("amount"), amountHelp: $("amount-help"),
    confirm: $("confirm"), saleError: $("sale-error"), retry: $("retry"),
    checkCancel: $("check-cancel"), receipt: $("receipt"), receiptTitle: $("receipt-title"),
    receiptNote: $("receipt-note"), nextSale: $("next-sale"), receiptVoid: $("receipt-void"),
    todayTotal: $("today-total"), todayStatus: $("today-status"), todayList: $("today-list"),
    todayRefresh: $("today-refresh"), todayMore: $("today-more"),
    dialog: $("void-dialog"), voidText: $("void-text"),
    voidError: $("void-error"), voidYes: $("void-yes"), voidNo: $("void-no"),
    banner: $("offline-banner"),
    pending: $("pending"), pendingTitle: $("pending-title"), pendingText: $("pending-text"),
    pendingCheck: $("pending-check"), readNotice: $("read-notice"),
    repeatDialog: $("repeat-dialog"), repeatText: $("repeat-text"),
    repeatYes: $("repeat-yes"), repeatNo: $("repeat-no"),
    receiptBalanceRow: $("receipt-balance-row")
  };

  var checked = null;   // the voucher on screen: {code, data, voucher (its fingerprint)}
  var sale = null;      // the sale being confirmed: {code, amount, key, …}; kept until its outcome is known
  var busy = false;
  var lastReceipt = null;
  var voidTarget = null;
  var networkFailed = false;

  // ---- formatting -------------------------------------------------------------------
  var number = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function euro(value) { return "€ " + number.format(Number(value)); }
  function day(iso) {
    var p = iso.split("-");
    return new Date(+p[0], +p[1] - 1, +p[2]).toLocaleDateString(lang);
  }
  function clock(iso) {
    var options = { hour: "2-digit", minute: "2-digit" };
    if (conf.timeZone) options.timeZone = conf.timeZone;
    try { return new Date(iso).toLocaleTimeString(lang, options); }
    catch (e) { return new Date(iso).toLocaleTimeString(lang); }
  }
  function show(node, visible) { node.hidden = !visible; }
  // One step at a time on a phone's screen: reading a code, a checked voucher, a receipt.
  function step(name) {
    show(el.pending, name === "pending");
    show(el.read, name === "read");
    if (name !== "read") show(el.readNotice, false);
    show(el.voucher, name === "voucher");
    show(el.receipt, name === "receipt");
  }
  function say(node, text) { node.textContent = text || ""; }
  function openDialog(d) { if (d.showModal) d.showModal(); else d.setAttribute("open", ""); }
  function closeDialog(d) { if (d.close) d.close(); else d.removeAttribute("open"); }

  // ---- network ----------------------------------------------------------------------
  function offline() { return networkFailed || navigator.onLine === false; }
  function updateNetwork() {
    if (el.banner) el.banner.hidden = !offline();
    el.confirm.disabled = busy || offline();
    el.retry.disabled = busy || navigator.onLine === false;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---- sales kept on this device, per shop ---------------------------------------------
  // The sale of unknown outcome, and the last minutes' sales (to ask before charging a
  // voucher the same amount again), its code as a digest. No localStorage: in memory.
  var STORE = "buonocomune.till." + conf.shop + ".";
  var REPEAT_WINDOW = 10 * 60 * 1000;
  var memory = {};
  function stored(name) {
    try { return JSON.parse(localStorage.getItem(STORE + name)); }
    catch (e) { return memory[name] || null; }
  }
  function store(name, value) {
    memory[name] = value;
    try { localStorage.setItem(STORE + name, JSON.stringify(value)); } catch (e) { /* memory */ }
  }
  function cents(value) { return Math.round(Number(value) * 100); }
  async function fingerprint(code) {
    var text = code.toUpperCase().replace(/[^0-9A-Z]/g, "");
    try {
      var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("till:" + text));
      return btoa(String.fromCharCode.apply(null, new Uint8Array(digest)));
    } catch (e) { return text; }  // an insecure origin
  }
  function recentSales() {
    var now = Date.now();
    return (stored("recent") || []).filter(function (r) { return now - r.at < REPEAT_WINDOW && r.at <= now; });
  }
  function rememberSale(voucher, redemption) {
    if (!voucher || redemption.status !== "confirmed") return;
    var list = recentSales().filter(function (r) { return r.id !== redemption.id; });
    list.push({
      voucher: voucher, cents: cents(redemption.amount), at: Date.now(), id: redemption.id,
      number: redemption.receipt_number, createdAt: redemption.created_at
    });
    store("recent", list.slice(-50));
  }
  function forgetSale(id) {
    store("recent", recentSales().filter(function (r) { return r.id !== id; }));
  }
  function earlierSale(voucher, amount) {
    var same = recentSales().filter(function (r) { return r.voucher === voucher && r.cents === cents(amount); });
    return same.length ? same[same.length - 1] : null;
  }

  // The cookie, read at each request, is always current; the page's copy of the token can
  // go stale when a response of another request (the service worker's, say) resets it.
  function csrfToken() {
    var prefix = conf.csrfCookie + "=";
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(prefix) === 0; })[0];
    return found ? decodeURIComponent(found.slice(prefix.length)) : conf.csrfToken;
  }

  // Resolve to {status, data, replayed}; status 0 means no answer reached the till.
  async function call(url, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "X-CSRFToken": csrfToken() };
    var init = { method: options.method || "GET", headers: headers, credentials: "same-origin" };
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    } else if (options.form) {
      init.body = options.form;
    }
    if (options.key) headers["Idempotency-Key"] = options.key;
    var response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      networkFailed = true;
      updateNetwork();
      return { status: 0, data: null };
    }
    networkFailed = false;
    updateNetwork();
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {
      status: response.status, ok: response.ok && data !== null, data: data,
      replayed: response.headers.get("Idempotent-Replayed") === "true"
    };
  }

  // Words for the cashier: the API's own sentence, or what to do when there is none.
  function problem(result) {
    if (result.status === 0) {
      return gettext("La cassa non riesce a raggiungere il server. Controlla la connessione e riprova.");
    }
    if (result.status === 401) {
      return gettext("La sessione della cassa è scaduta: accedi di nuovo.");
    }
    if (result.data && result.data.code === "permission_denied") {
      return gettext("Il server ha rifiutato la richiesta della cassa: ricarica la pagina e riprova.");
    }
    if (result.data && result.data.detail) return result.data.detail;
    return gettext("Il server non ha risposto come previsto. Riprova tra poco.");
  }
  function loginAgain(result) {
    if (result.status === 401) window.location.assign(conf.loginUrl);
  }

  // ---- camera -----------------------------------------------------------------------
  var stream = null, detector = null, scanTimer = null, canvas = null;

  async function startScan() {
    say(el.scanStatus, "");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(el.scanStatus, gettext("Questo browser non può usare la fotocamera: scrivi il codice qui sotto."));
      el.code.focus();
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } }
      });
    } catch (e) {
      stream = null;
      say(el.scanStatus, gettext("La fotocamera non si apre: controlla il permesso nel browser, oppure scrivi il codice qui sotto."));
      el.code.focus();
      return;
    }
    el.video.srcObject = stream;
    show(el.video, true);
    show(el.scanStart, false);
    show(el.scanStop, true);
    el.scanStop.focus();
    try { await el.video.play(); } catch (e) { /* autoplay of a muted stream is allowed */ }
    detector = null;
    if ("BarcodeDetector" in window) {
      try {
        var formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.indexOf("qr_code") >= 0) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { detector = null; }
    }
    say(el.scanStatus, gettext("Inquadra il QR del buono, tenendolo fermo."));
    scanLoop();
  }

  function stopScan() {
    clearTimeout(scanTimer);
    scanTimer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    el.video.srcObject = null;
    show(el.video, false);
    show(el.scanStop, false);
    show(el.scanStart, true);
  }

  async function scanLoop() {
    if (!stream) return;
    var started = Date.now();
    var code = null;
    if (el.video.readyState >= 2 && el.video.videoWidth) {
      try {
        code = detector ? await detectHere() : await detectOnServer();
      } catch (failure) {
        stopScan();
        say(el.scanStatus, failure.message || String(failure));
        return;
      }
    }
    if (!stream) return;
    if (code) {
      stopScan();
      say(el.scanStatus, gettext("QR letto."));
      el.code.value = code;
      check(code);
      return;
    }
    var pause = detector ? 200 : 500;
    scanTimer = setTimeout(scanLoop, Math.max(0, pause - (Date.now() - started)));
  }

  async function detectHere() {
    try {
      var found = await detector.detect(el.video);
      return found.length ? found[0].rawValue : null;
    } catch (e) {
      return null;  // a frame the detector could not read: try the next one
    }
  }

  // Browsers without BarcodeDetector: a downscaled JPEG frame, decoded by the server.
  async function detectOnServer() {
    var blob = await jpeg(el.video, el.video.videoWidth, el.video.videoHeight, 640, 0.8);
    if (!blob) return null;
    var form = new FormData();
    form.append("image", blob, "frame.jpg");
    var result = await call(conf.scanUrl, { method: "POST", form: form });
    if (result.ok) return result.data.code;
    if (result.status === 0 || (result.data && result.data.code === "no_code_found")) return null;
    loginAgain(result);
    throw new Error(problem(result));
  }

  // ---- a photo of the QR ------------------------------------------------------------
  // For phones whose camera will not stream to the page; the server decodes it. A large
  // photo is sent smaller: quicker on a mobile connection, still plenty for a QR.
  var PHOTO_SIDE = 2000;

  // A JPEG of a picture (a video frame, a photo) at most `side` pixels long.
  function jpeg(source, width, height, side, quality) {
    var scale = Math.min(1, side / Math.max(width, height));
    canvas = canvas || document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  async function smallerPhoto(file) {
    try {
      var bitmap = await createImageBitmap(file);
      if (Math.max(bitmap.width, bitmap.height) > PHOTO_SIDE) {
        return (await jpeg(bitmap, bitmap.width, bitmap.height, PHOTO_SIDE, 0.9)) || file;
      }
    } catch (e) { /* one the browser cannot read: the server says why */ }
    return file;
  }

  async function readPhoto() {
    var file = el.photo.files && el.photo.files[0];
    if (!file) return;
    stopScan();
    say(el.photoError, "");
    say(el.scanStatus, gettext("Leggo il QR nella foto…"));
    el.photo.disabled = true;
    var picture = await smallerPhoto(file);
    var form = new FormData();
    form.append("image", picture, picture === file ? (file.name || "photo.jpg") : "photo.jpg");
    var result = await call(conf.scanUrl, { method: "POST", form: form });
    el.photo.disabled = false;
    el.photo.value = "";  // the same photo chosen again is read again
    say(el.scanStatus, "");
    if (result.ok) {
      say(el.scanStatus, gettext("QR letto."));
      el.code.value = result.data.code;
      check(result.data.code);
      return;
    }
    say(el.photoError, problem(result));
    loginAgain(result);
    el.photo.focus();
  }

  // ---- check ------------------------------------------------------------------------
  async function check(code) {
    code = code.trim();
    say(el.codeError, "");
    say(el.photoError, "");
    el.code.removeAttribute("aria-invalid");
    if (!code) {
      say(el.codeError, gettext("Scrivi il codice del buono."));
      el.code.setAttribute("aria-invalid", "true");
      el.code.focus();
      return;
    }
    resetSale();
    var result = await call(conf.checkUrl, { method: "POST", json: { code: code } });
    if (!result.ok) {
      say(el.codeError, problem(result));
      el.code.setAttribute("aria-invalid", "true");
      el.code.focus();
      loginAgain(result);
      return;
    }
    showVoucher(code, result.data, await fingerprint(code));
  }

  function showVoucher(code, data, voucher) {
    checked = { code: code, data: data, voucher: voucher };
    // A shop outside the voucher's circuit is not told whose it is: nobody to identify.
    var named = data.holder_name !== "";
    say(el.holder, named ? data.holder_name : gettext("Buono di un altro circuito"));
    show($("holder-kicker"), named);
    show($("holder-help"), named);
    say(el.balance, euro(data.balance));
    say(el.validity, interpolate(gettext("dal %(from)s al %(until)s"), {
      from: day(data.valid_from), until: day(data.valid_until)
    }, true));
    say(el.initiative, data.initiative.title);
    step("voucher");
    show(el.refusal, !data.redeemable);
    show(el.saleForm, data.redeemable);
    if (!data.redeemable) {
      say(el.reason, data.reason_detail);
      el.refusal.focus();
      return;
    }
    el.amount.readOnly = !data.partial_allowed;
    if (data.partial_allowed) {
      el.amount.value = "";
      say(el.amountHelp, interpolate(gettext("In euro, al massimo %s. Per esempio 12,50."), [euro(data.balance)]));
      el.amount.focus();
    } else {
      el.amount.value = number.format(Number(data.balance));
      say(el.amountHelp, gettext("Buono a taglio fisso: si spende tutto in una volta."));
      el.confirm.focus();
    }
  }

  function closeVoucher() {
    checked = null;
    resetSale();
    step("read");
    el.code.value = "";
  }

  // ---- sale -------------------------------------------------------------------------
  function resetSale() {
    sale = null;
    busy = false;
    say(el.saleError, "");
    el.amount.removeAttribute("aria-invalid");
    show(el.retry, false);
    show(el.confirm, true);
    el.amount.readOnly = !!(checked && !checked.data.partial_allowed);
    updateNetwork();
  }

  // "12,50", "12.5", "12" → "12.50"-like text for the API; null when it is not an amount.
  function amountText(raw) {
    var text = raw.replace(/\s|€/g, "").replace(",", ".");
    return /^\d+(\.\d{1,2})?$/.test(text) && Number(text) > 0 ? text : null;
  }

  // "again" is the cashier's answer to "charge this voucher again?".
  function confirmSale(again) {
    if (!checked || busy || offline()) return;
    say(el.saleError, "");
    var amount = checked.data.partial_allowed ? amountText(el.amount.value) : checked.data.balance;
    if (amount === null) {
      say(el.saleError, gettext("Scrivi un importo in euro maggiore di zero, per esempio 12,50."));
      el.amount.setAttribute("aria-invalid", "true");
      el.amount.focus();
      return;
    }
    el.amount.removeAttribute("aria-invalid");
    var earlier = again ? null : earlierSale(checked.voucher, amount);
    if (earlier) {
      askRepeat(earlier, amount);
      return;
    }
    // One key per sale, made when the cashier confirms, reused by every retry of it and
    // kept on the device before it is sent: whatever happens, its outcome can be asked.
    sale = {
      code: checked.code, amount: amount, key: uuid(), voucher: checked.voucher,
      holder: checked.data.holder_name
    };
    keepPending();
    send();
  }

  function keepPending() {
    store("pending", Object.assign({}, sale, { code: undefined }));
  }

  function askRepeat(earlier, amount) {
    say(el.repeatText, interpolate(gettext("Questo buono è già stato addebitato di %(amount)s alle %(time)s (scontrino %(number)s). È davvero un secondo acquisto?"), {
      amount: euro(amount), time: clock(earlier.createdAt), number: earlier.number
    }, true));
    openDialog(el.repeatDialog);
    el.repeatNo.focus();
  }

  function closeRepeat() {
    closeDialog(el.repeatDialog);
  }

  async function send() {
    busy = true;
    el.amount.readOnly = true;
    updateNetwork();
    var result = await call(conf.redemptionsUrl, {
      method: "POST", json: { code: sale.code, amount: sale.amount }, key: sale.key
    });
    busy = false;
    if (result.ok) {
      var replayed = result.replayed;
      store("pending", null);
      rememberSale(sale.voucher, result.data);
      closeVoucher();
      showReceipt(result.data, replayed ? "replayed" : "");
      loadToday();
      return;
    }
    if (result.status === 0 || result.status >= 500 || !result.data || !result.data.code) {
      // The outcome is unknown: the voucher may have been charged. Keep the key and the
      // amount, and offer only "Riprova", which the server answers once.
      keepPending();
      show(el.confirm, false);
      show(el.retry, true);
      say(el.saleError, gettext("Non sappiamo se il pagamento è stato registrato. Premi «Riprova»: se era già registrato non verrà addebitato una seconda volta."));
      updateNetwork();
      el.retry.focus();
      return;
    }
    // A clear refusal: nothing was charged. The next confirmation is a new sale.
    store("pending", null);
    var message = problem(result);
    resetSale();
    say(el.saleError, message);
    loginAgain(result);
    if (!el.amount.readOnly) {
      el.amount.setAttribute("aria-invalid", "true");
      el.amount.focus();
    }
  }

  // how: "", "replayed" (a retry already recorded) or "resolved" (see resolvePending).
  function showReceipt(data, how) {
    lastReceipt = data;
    var confirmed = data.status === "confirmed";
    var figures = { amount: euro(data.amount), number: data.receipt_number };
    var note = "";
    if (how === "replayed") {
      note = gettext("Questo pagamento era già stato registrato: non è stato addebitato di nuovo.");
    } else if (how === "resolved") {
      note = confirmed
        ? interpolate(gettext("Il pagamento di %(amount)s è andato a buon fine (scontrino %(number)s): non addebitarlo di nuovo."), figures, true)
        : interpolate(gettext("Utilizzo %(number)s annullato: %(amount)s tornano sul buono."), figures, true);
    }
    say(el.receiptTitle, confirmed ? gettext("Pagamento registrato") : gettext("Utilizzo annullato"));
    say($("receipt-amount"), euro(data.amount));
    say($("receipt-balance"), euro(data.balance_after));
    show(el.receiptBalanceRow, confirmed);
    say($("receipt-number"), data.receipt_number);
    say($("receipt-time"), clock(data.created_at));
    say($("receipt-holder"), data.holder_name);
    say(el.receiptNote, note);
    show(el.receiptNote, note !== "");
    show(el.receiptVoid, confirmed);
    el.receipt.classList.toggle("voided", !confirmed);
    step("receipt");
    el.receiptTitle.focus();
  }

  // ---- a sale left without an answer ------------------------------------------------
  // Asked, not sent again: a sale that never arrived would be charged now, maybe after the
  // customer left. Until the answer comes the till reads no other voucher. A "not found" is
  // final: the server closes the sale's key as it answers, so the sale, if it was only held
  // up on its way, is refused when it arrives and charges nothing.
  var resolving = false;

  async function resolvePending() {
    var left = stored("pending");
    if (!left || resolving) return;
    resolving = true;
    var figures = { amount: euro(left.amount), holder: left.holder || "" };
    step("pending");
    show(el.pendingCheck, false);
    say(el.pendingText, interpolate(gettext("Verifico se il pagamento di %(amount)s (%(holder)s) è andato a buon fine…"), figures, true));
    el.pendingTitle.focus();
    var result = await call(conf.lookupUrl, { key: left.key });
    resolving = false;
    if (result.ok) {
      store("pending", null);
      rememberSale(left.voucher, result.data);
      showReceipt(result.data, "resolved");
      loadToday();
      return;
    }
    if (result.status === 404 && result.data && result.data.code === "redemption_not_found") {
      store("pending", null);
      step("read");
      say(el.readNotice, interpolate(gettext("Il pagamento di %(amount)s (%(holder)s) non è arrivato: nulla è stato addebitato."), figures, true));
      show(el.readNotice, true);
      el.readNotice.focus();
      return;
    }
    loginAgain(result);
    say(el.pendingText, interpolate(gettext("Non sappiamo ancora se il pagamento di %(amount)s (%(holder)s) è andato a buon fine: controlla la connessione e premi «Verifica di nuovo»."), figures, true) + (result.status === 0 ? "" : " " + problem(result)));
    show(el.pendingCheck, true);
    el.pendingCheck.focus();
  }

  function nextSale() {
    step("read");
    say(el.readNotice, "");
    lastReceipt = null;
    say(el.scanStatus, "");
    el.scanStart.focus();
  }

  // ---- void -------------------------------------------------------------------------
  function askVoid(redemption, opener) {
    voidTarget = { redemption: redemption, opener: opener };
    say(el.voidText, interpolate(gettext("Utilizzo %(number)s di %(amount)s, buono di %(holder)s. L'importo torna sul buono."), {
      number: redemption.receipt_number, amount: euro(redemption.amount), holder: redemption.holder_name
    }, true));
    say(el.voidError, "");
    el.voidYes.disabled = false;
    openDialog(el.dialog);
    el.voidNo.focus();
  }

  function closeVoid() {
    closeDialog(el.dialog);
  }

  async function doVoid() {
    if (!voidTarget) return;
    var target = voidTarget;
    el.voidYes.disabled = true;
    var url = conf.voidUrl.replace(/\/0\/void\/$/, "/" + target.redemption.id + "/void/");
    var result = await call(url, { method: "POST" });
    el.voidYes.disabled = false;
    if (!result.ok && !(result.data && result.data.code === "already_voided")) {
      say(el.voidError, problem(result));
      loginAgain(result);
      return;
    }
    voidTarget = null;
    forgetSale(target.redemption.id);
    closeVoid();
    var message = interpolate(gettext("Utilizzo %(number)s annullato: %(amount)s tornano sul buono."), {
      number: target.redemption.receipt_number, amount: euro(target.redemption.amount)
    }, true);
    if (lastReceipt && lastReceipt.id === target.redemption.id) {
      // The voucher's balance now (unknown if another till voided it first).
      var balanceNow = result.ok ? result.data.voucher_balance : null;
      say($("receipt-balance"), balanceNow === null ? "" : euro(balanceNow));
      show(el.receiptBalanceRow, balanceNow !== null);
      show(el.receiptVoid, false);
      el.receipt.classList.add("voided");
      say(el.receiptTitle, gettext("Utilizzo annullato"));
      say(el.receiptNote, message);
      show(el.receiptNote, true);
      el.receiptTitle.focus();
    } else {
      say(el.todayStatus, message);
      el.todayRefresh.focus();
    }
    loadToday();
  }

  // ---- today's list -----------------------------------------------------------------
  // Fifty at a time, the latest first; "Mostra i precedenti" appends the next fifty, so a
  // busy shop still finds the morning's sale to cancel.
  var TODAY_PAGE = 50;
  var todayNext = null;

  function todayItem(r) {
    var item = document.createElement("li");
    var voided = r.status !== "confirmed";
    if (voided) item.className = "voided";
    var text = document.createElement("span");
    text.textContent = clock(r.created_at) + " · " + r.holder_name + " · " + r.receipt_number;
    var amount = document.createElement("strong");
    amount.textContent = euro(r.amount) + (voided ? " · " + gettext("annullato") : "");
    item.append(text, " ", amount);
    if (!voided) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button danger small";
      button.textContent = gettext("Annulla");
      button.setAttribute("aria-label", interpolate(gettext("Annulla l'utilizzo %(number)s di %(amount)s"), {
        number: r.receipt_number, amount: euro(r.amount)
      }, true));
      button.addEventListener("click", function () { askVoid(r, button); });
      item.append(" ", button);
    }
    return item;
  }

  function setNext(next) {
    // The API gives an absolute address; keep its path and query, on this page's origin.
    if (next) {
      var address = new URL(next, window.location.href);
      todayNext = address.pathname + address.search;
    } else {
      todayNext = null;
    }
    show(el.todayMore, todayNext !== null);
  }

  async function loadToday() {
    var result = await call(conf.redemptionsUrl + "?page_size=" + TODAY_PAGE);
    if (!result.ok) {
      say(el.todayStatus, problem(result));
      return;
    }
    var data = result.data;
    say(el.todayTotal, interpolate(gettext("Totale di oggi: %(total)s · utilizzi: %(count)s"), {
      total: euro(data.total), count: data.count
    }, true));
    el.todayList.textContent = "";
    data.results.forEach(function (r) { el.todayList.append(todayItem(r)); });
    setNext(data.next);
    if (!data.count) {
      var none = document.createElement("li");
      none.textContent = gettext("Nessun utilizzo oggi.");
      el.todayList.append(none);
    }
  }

  async function loadEarlier() {
    if (!todayNext) return;
    var result = await call(todayNext);
    if (!result.ok) {
      say(el.todayStatus, problem(result));
      return;
    }
    var first = null;
    result.data.results.forEach(function (r) {
      var item = todayItem(r);
      if (!first) first = item;
      el.todayList.append(item);
    });
    setNext(result.data.next);
    say(el.todayStatus, interpolate(gettext("Altri %(count)s utilizzi in elenco."), {
      count: result.data.results.length
    }, true));
    // Keyboard and screen reader users go on from the first row added.
    var target = first && first.querySelector("button");
    if (target) target.focus(); else if (!todayNext) el.todayRefresh.focus();
  }

  // ---- wiring -----------------------------------------------------------------------
  el.scanStart.addEventListener("click", startScan);
  el.scanStop.addEventListener("click", function () {
    stopScan();
    say(el.scanStatus, "");
    el.scanStart.focus();
  });
  el.photo.addEventListener("change", readPhoto);
  el.codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    stopScan();
    check(el.code.value);
  });
  el.saleForm.addEventListener("submit", function (event) {
    event.preventDefault();
    confirmSale(false);
  });
  el.repeatNo.addEventListener("click", closeRepeat);
  el.repeatYes.addEventListener("click", function () {
    closeRepeat();
    confirmSale(true);
  });
  el.repeatDialog.addEventListener("close", function () {
    if (!sale && checked) (el.amount.readOnly ? el.confirm : el.amount).focus();
  });
  el.pendingCheck.addEventListener("click", resolvePending);
  el.retry.addEventListener("click", function () { if (sale && !busy) send(); });
  el.checkCancel.addEventListener("click", function () {
    var unknownOutcome = sale !== null;
    closeVoucher();
    // A sale left without an answer may have gone through: the server says whether it did.
    if (unknownOutcome && stored("pending")) resolvePending();
    else el.code.focus();
  });
  el.nextSale.addEventListener("click", nextSale);
  el.receiptVoid.addEventListener("click", function () { if (lastReceipt) askVoid(lastReceipt, el.receiptVoid); });
  el.voidYes.addEventListener("click", doVoid);
  el.todayMore.addEventListener("click", loadEarlier);
  el.voidNo.addEventListener("click", closeVoid);
  el.dialog.addEventListener("close", function () {
    var target = voidTarget;
    voidTarget = null;
    if (target && target.opener && document.body.contains(target.opener)) target.opener.focus();
  });
  el.todayRefresh.addEventListener("click", function () { say(el.todayStatus, ""); loadToday(); });
  window.addEventListener("online", function () {
    networkFailed = false;
    updateNetwork();
    loadToday();
    if (!sale && stored("pending")) resolvePending();
  });
  window.addEventListener("offline", updateNetwork);
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && stream) { stopScan(); say(el.scanStatus, ""); }
  });
  window.addEventListener("pagehide", stopScan);
  // The buttons stay disabled until now, so that nothing is sent before the till is ready.
  el.scanStart.disabled = false;
  el.photo.disabled = false;
  $("code-submit").disabled = false;
  updateNetwork();
  loadToday();
  // A sale left without an answer, on this page before a reload or on an earlier visit.
  if (stored("pending")) resolvePending();
})();
