"""Read queries about calls, beneficiaries and vouchers."""

from decimal import Decimal

from django.db.models import QuerySet, Sum

from core.models import Account, Posting
from core.money import ZERO
from vouchers.models import Voucher


def voucher_visible_to(*, user, voucher_id: int) -> Voucher | None:
    """Return the voucher if the user is its holder or staff allowed to see vouchers."""
    voucher = (
        Voucher.objects.select_related("beneficiary", "initiative").filter(pk=voucher_id).first()
    )
    if voucher is None or not user.is_authenticated:
        return None
    if voucher.beneficiary.user_id == user.pk:
        return voucher
    if user.is_staff and user.has_perm("vouchers.view_voucher"):
        return voucher
    return None


def voucher_ledger_balance(*, voucher_id: int) -> Decimal:
    """Recompute a voucher's balance from the ledger alone."""
    total = Posting.objects.filter(
        account__kind=Account.Kind.VOUCHERS_OUTSTANDING, voucher_ref=voucher_id
    ).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else ZERO


def vouchers_of_holder(*, beneficiary_id: int) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(beneficiary_id=beneficiary_id)
        .select_related("initiative")
        .order_by("-issued_at")
    )
