"""Euro amounts: one place that parses, quantises and formats them."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.formats import number_format

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class InvalidAmount(ValueError):
    """The text or number is not a positive euro amount with at most two decimals."""


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
