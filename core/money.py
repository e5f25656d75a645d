"""Euro amounts: one place that parses, quantises and formats them.

``euro`` reads machine values (the API's ``"12.50"``, a Decimal); ``parse_euro`` reads what a
person typed, the Italian way or not («8.500,00», «8500,00», «8500.00», «€ 8.500»), and
refuses what could be read two ways.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.formats import number_format

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class InvalidAmount(ValueError):
    """The text or number is not a positive euro amount with at most two decimals.

    ``code`` says why, for the message people read: ``invalid``, ``ambiguous`` (a separator
    that could mark thousands or decimals), ``negative``, ``decimals`` (more than two) or
    ``too_large``.
    """

    def __init__(self, value: object = "", code: str = "invalid"):
        super().__init__(str(value))
        self.code = code


def euro(value: str | int | Decimal) -> Decimal:
    """Return ``value`` as a Decimal with two places; refuse floats and sub-cent digits."""
    if isinstance(value, float | bool):
        raise InvalidAmount("floats are not accepted for money")
    try:
        amount = (
            Decimal(str(value).strip().replace(",", "."))
            if isinstance(value, str)
            else Decimal(value)
        )
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(str(value)) from exc
    if not amount.is_finite():
        raise InvalidAmount(str(value))
    try:
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the decimal context holds ("1e400")
        raise InvalidAmount(str(value)) from exc
    if amount != cents:
        raise InvalidAmount(str(value))
    return cents


def positive_euro(value: str | int | Decimal) -> Decimal:
    """Return ``value`` as a positive euro amount (at least one cent)."""
    amount = euro(value)
    if amount <= ZERO:
        raise InvalidAmount(str(value))
    return amount


def format_euro(amount: Decimal) -> str:
    """Format an amount for people: ``€ 1.234,50`` in Italian, ``€ 1,234.50`` in English."""
    return "€ " + number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)


# Typed amounts: currency sign or code, spaces (also non-breaking, as spreadsheets copy them).
_CURRENCY = re.compile(r"^(?:€|eur(?:o)?)|(?:€|eur(?:o)?)$", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_DIGITS_AND_SEPARATORS = re.compile(r"^[0-9.,]+$")
# Whole euros: up to twelve digits, more is no amount anybody types.
MAX_WHOLE_DIGITS = 12


def _leads_a_thousand(digits: str) -> bool:
    """Whether ``digits`` can come before a thousands separator: 1 to 3, no leading zero."""
    return 1 <= len(digits) <= 3 and not digits.startswith("0")


def _whole(part: str, separator: str, text: str) -> str:
    """The digits of a whole part grouped by ``separator`` in thousands (1.234.567)."""
    groups = part.split(separator)
    if not _leads_a_thousand(groups[0]) or any(len(group) != 3 for group in groups[1:]):
        raise InvalidAmount(text)
    return "".join(groups)


def parse_euro(text: str | int | Decimal) -> Decimal:
    """Read an amount in euros as people type it: «8500», «8500,00», «8.500,00», «€ 8.500»,
    «8500.00», «1,234.56»; return it with two places, at least zero.

    A comma is the decimal mark (Italian) unless a dot follows it; a dot followed by exactly
    three digits groups thousands («8.500» is 8500), by one or two it is the decimal mark.
    «8,500» is refused as ambiguous (eight euros fifty, or eight thousand five hundred?).
    """
    if isinstance(text, float | bool):
        raise InvalidAmount(text)
    if isinstance(text, int | Decimal):
        amount = euro(text)
        if amount < ZERO:
            raise InvalidAmount(text, "negative")
        return amount
    original = str(text)
    value = _SPACES.sub("", original)
    value = _CURRENCY.sub("", value)
    value = _SPACES.sub("", value)
    if value[:1] in ("-", "\u2212"):
        raise InvalidAmount(original, "negative")
    if value[:1] == "+":
        value = value[1:]
    if not value or not _DIGITS_AND_SEPARATORS.match(value) or not any(c.isdigit() for c in value):
        raise InvalidAmount(original)
    if "," in value and "." in value:
        decimal_mark = "," if value.rfind(",") > value.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        whole, fraction = value.rsplit(decimal_mark, 1)
        if decimal_mark in whole:
            raise InvalidAmount(original)
        whole = _whole(whole, grouping, original)
    elif "," in value:
        if value.count(",") > 1:
            whole, fraction = _whole(value, ",", original), ""
        else:
            whole, fraction = value.split(",")
            if len(fraction) == 3 and _leads_a_thousand(whole):
                raise InvalidAmount(original, "ambiguous")
    elif "." in value:
        whole, _sep, fraction = value.rpartition(".")
        if value.count(".") > 1 or (len(fraction) == 3 and _leads_a_thousand(whole)):
            whole, fraction = _whole(value, ".", original), ""
    else:
        whole, fraction = value, ""
    if "." in value or "," in value:
        if not fraction and value[-1] in ".,":
            raise InvalidAmount(original)
    if len(fraction) > 2:
        raise InvalidAmount(original, "decimals")
    whole = whole.lstrip("0") or "0"
    if len(whole) > MAX_WHOLE_DIGITS:
        raise InvalidAmount(original, "too_large")
    return Decimal(f"{whole}.{fraction or '0'}").quantize(CENT)
