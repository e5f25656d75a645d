"""Voucher codes: 100 random bits in uppercase Crockford base32 (20 characters).

Crockford's alphabet has no I, L, O or U; people who type a code may write I or L for 1
and O for 0, and may add spaces or dashes: all of that is accepted. Every character is in
the QR alphanumeric set, so the QR stays small.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 20  # 20 × 5 bits = 100 bits of randomness
GROUP_SIZE = 5

_TYPING_FIXES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-_.]+")
_VALID = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


class InvalidCodeFormat(ValueError):
    """The text cannot be a voucher code."""


def generate_code() -> str:
    """Return a new random voucher code: 100 bits from the system's CSPRNG, 5 per character."""
    bits = secrets.randbits(CODE_LENGTH * 5)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """Return the canonical code for what a person typed or a scanner read."""
    if not isinstance(text, str):
        raise InvalidCodeFormat(repr(text))
    cleaned = _SEPARATORS.sub("", text.strip().upper()).translate(_TYPING_FIXES)
    if not _VALID.match(cleaned):
        raise InvalidCodeFormat(text)
    return cleaned


def group_code(code: str, size: int = GROUP_SIZE) -> str:
    """Return the code in groups for reading aloud and typing: ``ABCDE-FGHJK-…``."""
    return "-".join(code[i : i + size] for i in range(0, len(code), size))
