"""The demo's derived values: voucher codes, device keys, access codes and passwords (from the
secret key), fiscal codes, VAT numbers and IBANs of the fixed data in ``reports.demo.data``."""

import base64
import hashlib
import hmac
import unicodedata
from datetime import date

from django.conf import settings
from schwifty import IBAN
from stdnum import luhn
from stdnum.it import codicefiscale

from reports.demo.data import (
    BENEFICIARIES,
    BENEFICIARY_LOGIN,
    INITIATIVES,
    MERCHANTS,
    STAFF,
    Person,
    Shop,
)
from vouchers.codes import ALPHABET, CODE_LENGTH, group_code
from vouchers.models import Beneficiary
from vouchers.services.access import ACCESS_CODE_LENGTH


def _derive(label: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()


def demo_voucher_code(number: int) -> str:
    """Return the ``number``-th demo voucher code: 100 bits of HMAC in Crockford base32."""
    bits = 5 * CODE_LENGTH
    value = int.from_bytes(_derive(f"demo:voucher:{number}"), "big") >> (256 - bits)
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(bits - 5, -1, -5))


def demo_device_key(number: int) -> str:
    """Return the raw device key of the ``number``-th demo shop."""
    digest = _derive(f"demo:device:{number}")
    return "bc_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def demo_access_code() -> str:
    """Return the printed access code of the beneficiary who logs in to the app."""
    value = int.from_bytes(_derive("demo:access-code"), "big")
    code = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(ACCESS_CODE_LENGTH))
    return group_code(code, size=4)


def demo_password(username: str) -> str:
    return f"demo-{username}"


def demo_voucher_total() -> int:
    return sum(len(call.holders) * call.quantity for call in INITIATIVES)


def demo_voucher_codes() -> list[str]:
    """Every demo code, in the order they are issued."""
    return [demo_voucher_code(n) for n in range(demo_voucher_total())]


def _letters(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.upper() if "A" <= ch <= "Z")


def _name_code(text: str, *, first_name: bool) -> str:
    letters = _letters(text)
    consonants = [ch for ch in letters if ch not in "AEIOU"]
    vowels = [ch for ch in letters if ch in "AEIOU"]
    if first_name and len(consonants) >= 4:
        return consonants[0] + consonants[2] + consonants[3]
    return "".join(consonants + vowels + ["X", "X", "X"])[:3]


def fiscal_code(
    *, first_name: str, last_name: str, female: bool, birth_date: date, birthplace: str
) -> str:
    """Return the codice fiscale of a person (without omocodia), with its check letter."""
    body = (
        _name_code(last_name, first_name=False)
        + _name_code(first_name, first_name=True)
        + f"{birth_date.year % 100:02d}"
        + "ABCDEHLMPRST"[birth_date.month - 1]
        + f"{birth_date.day + (40 if female else 0):02d}"
        + birthplace
    )
    return body + codicefiscale.calc_check_digit(body)


def person_fiscal_code(person: Person) -> str:
    return fiscal_code(
        first_name=person.first_name,
        last_name=person.last_name,
        female=person.female,
        birth_date=person.birth_date,
        birthplace=person.birthplace,
    )


def shop_vat_number(shop: Shop) -> str:
    body = f"{shop.company_number}016"
    return body + luhn.calc_check_digit(body)


def shop_iban(shop: Shop) -> str:
    return IBAN.generate("IT", bank_code=shop.bank_code, account_code=shop.account).compact


def demo_usernames() -> list[str]:
    names = [staff.username for staff in STAFF] + [BENEFICIARY_LOGIN[0]]
    for shop in MERCHANTS:
        names.append(shop.owner.username)
        if shop.cashier:
            names.append(shop.cashier.username)
    return names


def demo_app_access() -> dict[str, str] | None:
    """How the demo beneficiary logs in to the app: fiscal code and printed access code."""
    holder = next(p for p in BENEFICIARIES if p.key == BENEFICIARY_LOGIN[1])
    fiscal_code = person_fiscal_code(holder)
    if (
        not Beneficiary.objects.filter(fiscal_code=fiscal_code)
        .exclude(access_code_hash="")
        .exists()
    ):
        return None
    return {
        "name": f"{holder.first_name} {holder.last_name}",
        "fiscal_code": fiscal_code,
        "access_code": demo_access_code(),
        "email": holder.email,
    }
