"""The voucher's QR: its payload is the code only, drawn in high contrast with segno."""

import io

import segno


def voucher_qr(code: str) -> segno.QRCode:
    # Alphanumeric mode and error correction level M keep the symbol small (version 2)
    # and readable by ordinary phone cameras even on a creased paper voucher.
    return segno.make_qr(code, error="m", mode="alphanumeric", boost_error=True)


def voucher_qr_svg(code: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    voucher_qr(code).save(
        buffer, kind="svg", scale=scale, border=4, dark="#000000", light="#ffffff", xmldecl=False
    )
    return buffer.getvalue()


def voucher_qr_png(code: str, *, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    voucher_qr(code).save(
        buffer, kind="png", scale=scale, border=4, dark="#000000", light="#ffffff"
    )
    return buffer.getvalue()
