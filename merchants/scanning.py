"""Reading a voucher's QR from a till's camera frame, for browsers without BarcodeDetector.

The picture comes from the network: it is taken only as JPEG or PNG (told by its first bytes,
and Pillow is allowed no other decoder, so no PostScript reaches Ghostscript), its size in
pixels is read from its header and checked before a pixel is decoded, and the body it comes
in is refused before it is read when it is larger than ``MAX_SCAN_BODY_BYTES``.
"""

import io
import logging

from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from core.errors import DomainError
from core.parsers import MultiPartParser
from core.uploads import SIGNATURES
from vouchers.codes import InvalidCodeFormat, normalize_code

MAX_SCAN_BYTES = 5 * 1024 * 1024
# The frame and the multipart envelope around it (boundaries, headers, a few fields).
MAX_SCAN_BODY_BYTES = MAX_SCAN_BYTES + 64 * 1024
# A phone's photo (4000 × 6000); decoded, 25 million pixels take 25 MB in grey.
MAX_SCAN_PIXELS = 25_000_000
# Pillow's name for each accepted type, told by its first bytes.
SCAN_FORMATS = {
    signature: content_type.removeprefix("image/").upper()
    for signature, content_type in SIGNATURES.items()
    if content_type in ("image/jpeg", "image/png")
}
# A JPEG larger than this on both sides is decoded at a reduced scale (JPEG's own "draft"
# decoding), which costs a fraction of the time and memory; a QR stays readable.
DRAFT_SIDE = 2400

logger = logging.getLogger(__name__)


class ScanError(DomainError):
    """Why a camera frame gives no voucher code."""

    messages = {
        "unsupported_image_format": _("Sono accettate solo immagini JPEG o PNG."),
        "invalid_image": _("Il file non è un'immagine JPEG o PNG leggibile."),
        "image_too_large": _("L'immagine supera i 5 MB."),
        "no_code_found": _("Nessun QR di un buono nell'immagine: avvicina il buono e riprova."),
        "service_unavailable": _(
            "La lettura del QR dalle foto non è disponibile su questo server: scrivi il "
            "codice del buono."
        ),
    }


class ScanParser(MultiPartParser):
    """The multipart parser for one camera frame: a body of at most MAX_SCAN_BODY_BYTES."""

    max_bytes = MAX_SCAN_BODY_BYTES


def zbar_decode():
    """pyzbar's ``decode`` and ``ZBarSymbol``, or ``service_unavailable`` without libzbar0.

    pyzbar loads the system's zbar library when it is imported: imported here, when a frame
    arrives, so that a server without it answers 503 instead of failing.
    """
    try:
        from pyzbar.pyzbar import ZBarSymbol, decode
    except (ImportError, OSError) as exc:
        logger.error("QR decoder unavailable (install the system package libzbar0): %s", exc)
        raise ScanError("service_unavailable") from exc
    return decode, ZBarSymbol


def scan_format(image_bytes: bytes) -> str:
    """Pillow's format name of a JPEG or PNG frame, from its first bytes."""
    for signature, image_format in SCAN_FORMATS.items():
        if image_bytes.startswith(signature):
            return image_format
    raise ScanError("unsupported_image_format")


def voucher_code_from_frame(image_bytes: bytes) -> str:
    """The first voucher code in a camera frame, or a ScanError saying why there is none."""
    if len(image_bytes) > MAX_SCAN_BYTES:
        raise ScanError("image_too_large")
    image_format = scan_format(image_bytes)
    try:
        # Opening reads the header only; no pixel is decoded before the size is checked.
        with Image.open(io.BytesIO(image_bytes), formats=(image_format,)) as picture:
            if picture.width * picture.height > MAX_SCAN_PIXELS:
                raise ScanError(
                    "image_too_large",
                    _("L'immagine è troppo grande: al massimo %(millions)s milioni di pixel."),
                    millions=MAX_SCAN_PIXELS // 1_000_000,
                )
            decode, symbol = zbar_decode()  # before decoding pixels nobody could read
            picture.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
            grey = picture.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ScanError("invalid_image") from exc
    except Image.DecompressionBombError as exc:
        raise ScanError("image_too_large") from exc
    try:
        symbols = decode(grey, symbols=[symbol.QRCODE])
    except (ImportError, OSError) as exc:
        logger.error("QR decoder failed (install the system package libzbar0): %s", exc)
        raise ScanError("service_unavailable") from exc
    for found in symbols:
        try:
            return normalize_code(found.data.decode("ascii", errors="replace"))
        except InvalidCodeFormat:
            continue
    raise ScanError("no_code_found")
