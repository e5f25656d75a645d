"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Playwright cannot download browsers here, so the tests use the system's Chromium
(``/usr/bin/chromium``, or ``CHROMIUM_PATH``); without it they fail and say how to install
it instead of being skipped, so a green run always means the browser tests ran.
"""

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told that this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A camera that needs no permission prompt: Chromium's test pattern, or ``camera``.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# Where to save phone-size screenshots of the main screens (docs/screenshots when set).
SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR", "")


@pytest.fixture(scope="session")
def playwright_driver():
    if not CHROMIUM.exists() and not shutil.which(str(CHROMIUM)):
        pytest.fail(
            f"The browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
            "CI's .ci/run installs it). Set CHROMIUM_PATH to use another build.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def launch_browser(playwright_driver, tmp_path):
    """Return a function that opens Chromium on a fresh profile, closed after the test.

    ``camera`` is a .y4m file that Chromium plays as the phone's camera (else a test
    pattern); other keyword
    arguments go to ``launch_persistent_context`` (viewport, service_workers, …).
    """
    contexts = []

    def launch(*, camera: Path | None = None, **options):
        args = list(CHROMIUM_ARGS)
        if camera is not None:
            args.append(f"--use-file-for-fake-video-capture={camera}")
        options.setdefault("viewport", PHONE)
        options.setdefault("locale", "it-IT")
        context = playwright_driver.chromium.launch_persistent_context(
            user_data_dir=tmp_path / f"profile-{len(contexts)}",
            executable_path=str(CHROMIUM),
            headless=True,
            args=args,
            **options,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield launch
    for context in contexts:
        context.close()


@pytest.fixture
def page_errors():
    """Collect uncaught JavaScript errors of the pages passed to ``watch``."""
    errors: list[str] = []

    class Watcher:
        def watch(self, page):
            page.on("pageerror", lambda error: errors.append(str(error)))
            return page

        @property
        def errors(self) -> list[str]:
            return errors

    return Watcher()


def serious_accessibility_violations(page) -> list[str]:
    """Run axe-core on the page; return its serious and critical violations, readable."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through DevTools rather than added as a <script>: the pages' CSP
        # (script-src 'self') rightly refuses inline scripts, and tests should not relax it.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


@pytest.fixture
def axe():
    """Return a function that lists a page's serious and critical axe-core violations."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"axe-core is missing: expected it vendored at {AXE_SCRIPT}", pytrace=False)
    return serious_accessibility_violations


def y4m_still(picture: Image.Image, path: Path, *, frames: int = 10) -> Path:
    """Write a picture as a short YUV4MPEG2 clip (4:2:0, full-range JPEG YCbCr)."""
    picture = picture.convert("RGB")
    width, height = picture.size
    luma, blue, red = picture.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = (
        b"FRAME\n"
        + luma.tobytes()
        + blue.resize(half, Image.Resampling.BOX).tobytes()
        + red.resize(half, Image.Resampling.BOX).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


@pytest.fixture
def qr_camera(tmp_path):
    """Return a function that turns a voucher code into a fake camera showing its QR."""
    from vouchers.qr import voucher_qr_png

    def make(code: str, *, size=(640, 480)) -> Path:
        frame = Image.new("RGB", size, "white")
        with Image.open(io.BytesIO(voucher_qr_png(code, scale=10))) as qr:
            qr = qr.convert("RGB")
            frame.paste(qr, ((size[0] - qr.width) // 2, (size[1] - qr.height) // 2))
        return y4m_still(frame, tmp_path / "camera.y4m")

    return make


@pytest.fixture
def screenshot():
    """Return a function that saves a screenshot into SCREENSHOTS_DIR, when it is set."""
    return save_screenshot


def save_screenshot(page, name: str) -> None:
    """Save a phone-size screenshot when SCREENSHOTS_DIR is set; never fail a test for it."""
    if not SCREENSHOTS_DIR:
        return
    try:
        folder = Path(SCREENSHOTS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=False)
    except Exception as error:  # a screenshot is documentation, not a check
        print(f"screenshot {name} not saved: {error}")
