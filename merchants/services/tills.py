"""What a till is and sends: the till, its guard, a code and an amount read from its request,
the refusals kept for the audit, and the ledger line of what a shop is owed."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User

from core.models import Account
from core.money import InvalidAmount, positive_euro
from core.services.ledger import Line
from merchants.errors import RedemptionError
from merchants.models import DeviceKey, Merchant, MerchantStaff, RefusedAttempt
from vouchers.codes import InvalidCodeFormat, normalize_code

LARGEST_LOGGED_AMOUNT = Decimal("99999999.99")


@dataclass(frozen=True, slots=True)
class Till:
    """Who operates at a shop: a logged-in cashier or owner, or a device key."""

    merchant: Merchant
    user: User | None = None
    device: DeviceKey | None = None
    role: str = MerchantStaff.Role.CASHIER


def payable_line(*, merchant_id: int, amount: Decimal, voucher_id: int | None = None) -> Line:
    return Line(
        f"merchant:{merchant_id}:payable",
        amount,
        Account.Kind.MERCHANT_PAYABLE,
        f"Da liquidare all'esercente {merchant_id}",
        voucher_ref=voucher_id,
        merchant_ref=merchant_id,
    )


def till_guard(*, till: Till) -> None:
    """Refuse a shop that may not take vouchers now."""
    status = till.merchant.status
    if status == Merchant.Status.SUSPENDED:
        raise RedemptionError("merchant_suspended")
    if status != Merchant.Status.ACCREDITED:
        raise RedemptionError("merchant_not_accredited")


def parse_code(text: object) -> str:
    try:
        return normalize_code(text)  # type: ignore[arg-type]
    except InvalidCodeFormat as exc:
        raise RedemptionError("invalid_code_format") from exc


# An amount as the API takes it, the pattern its OpenAPI schema publishes
# (merchants.serializers.AmountField): euros in ASCII digits, a point and at most two
# decimals, nothing around them. Not "1e0", "1_0", "١٠", " 1,5 ", which Decimal would read.
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
_AMOUNT_TEXT = re.compile(AMOUNT_PATTERN)


def parse_amount(value: object) -> Decimal:
    """A positive amount from the API's text (``AMOUNT_PATTERN``) or from a Decimal."""
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value) is None:
        raise RedemptionError("invalid_amount")
    if not isinstance(value, str | Decimal | int) or isinstance(value, bool):
        raise RedemptionError("invalid_amount")
    try:
        return positive_euro(value)
    except InvalidAmount as exc:
        raise RedemptionError("invalid_amount") from exc


def refused_attempt_record(
    *,
    till: Till | None,
    action: str,
    error: RedemptionError,
    code: str = "",
    amount: object = None,
    ip_address: str | None = None,
) -> RefusedAttempt:
    """Keep a refused check, redemption or void, with its reason, for the audit."""
    try:
        amount_value = parse_amount(amount) if amount is not None else None
    except RedemptionError:
        amount_value = None
    if amount_value is not None and amount_value > LARGEST_LOGGED_AMOUNT:
        amount_value = None  # the column holds 10 digits; PostgreSQL refuses a larger sum
    cleaned = "".join(ch for ch in str(code or "") if ch.isalnum()).upper()
    return RefusedAttempt.objects.create(
        action=action,
        reason=error.code,
        merchant=till.merchant if till else None,
        device=till.device if till else None,
        user=till.user if till and getattr(till.user, "pk", None) else None,
        voucher=getattr(error, "voucher", None),
        code_hint=cleaned[-4:],
        amount=amount_value,
        ip_address=ip_address,
    )
