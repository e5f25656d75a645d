"""A till checks a voucher before charging it: who holds it, what is left, whether this shop
can take it now."""

from dataclasses import dataclass

from merchants.errors import RedemptionError
from merchants.models import RefusedAttempt
from merchants.selectors import voucher_by_code
from merchants.services.redemption import voucher_usability_error
from merchants.services.tills import Till, parse_code, refused_attempt_record, till_guard
from vouchers.models import Voucher


@dataclass(frozen=True, slots=True)
class VoucherCheck:
    voucher: Voucher
    holder_name: str
    reason: RedemptionError | None  # why this shop cannot take it now; None if it can

    @property
    def redeemable(self) -> bool:
        return self.reason is None


def voucher_check(*, till: Till, code: str, ip_address: str | None = None) -> VoucherCheck:
    """What a till may learn about a voucher before charging it.

    Refuses (``RedemptionError``) a shop that may not take vouchers, a malformed code and a
    code no voucher has; the caller keeps those refusals, as a redemption's. A voucher this
    shop cannot take now is answered with the reason, which is kept here for the audit. A
    shop outside the voucher's circuit has no one to identify: it learns no name.
    """
    till_guard(till=till)
    code = parse_code(code)
    voucher = voucher_by_code(code=code)
    if voucher is None:
        raise RedemptionError("voucher_not_found")
    reason = voucher_usability_error(voucher=voucher, merchant=till.merchant)
    if reason is not None:
        reason.voucher = voucher
        refused_attempt_record(
            till=till,
            action=RefusedAttempt.Action.CHECK,
            error=reason,
            code=code,
            ip_address=ip_address,
        )
    outside = reason is not None and reason.code == "merchant_not_in_circuit"
    return VoucherCheck(
        voucher=voucher,
        holder_name="" if outside else voucher.beneficiary.full_name,
        reason=reason,
    )
