"""A mistaken redemption cancelled the same day, the voucher refunded."""

from django.db import transaction
from django.utils import timezone

from core.models import Journal
from core.services.ledger import journal_post
from merchants.errors import RedemptionError
from merchants.models import MerchantStaff, Redemption
from merchants.services.tills import Till, payable_line
from vouchers.models import Voucher
from vouchers.services.budget import outstanding_line


def redemption_void(*, till: Till, redemption_id: int) -> Redemption:
    """Cancel a mistaken redemption the same day, before it is settled; refund the voucher."""
    with transaction.atomic():
        redemption = (
            Redemption.objects.select_for_update(of=("self",))
            .filter(pk=redemption_id, merchant=till.merchant)
            .first()
        )
        if redemption is None:
            raise RedemptionError("redemption_not_found")
        if (
            till.device is None
            and till.role == MerchantStaff.Role.CASHIER
            and redemption.cashier_id != getattr(till.user, "pk", None)
        ):
            raise RedemptionError("not_your_redemption")
        if redemption.status == Redemption.Status.VOIDED:
            raise RedemptionError("already_voided")
        if redemption.settlement_id is not None:
            raise RedemptionError("already_settled")
        if timezone.localdate(redemption.created_at) != timezone.localdate():
            raise RedemptionError("void_window_closed")
        voucher = Voucher.objects.select_for_update().get(pk=redemption.voucher_id)
        if voucher.status == Voucher.Status.REVOKED:
            raise RedemptionError("voucher_revoked")
        if voucher.status == Voucher.Status.EXPIRED:
            raise RedemptionError("voucher_expired")
        voucher.balance += redemption.amount
        voucher.status = Voucher.Status.ACTIVE
        voucher.save(update_fields=["balance", "status"])
        journal_post(
            kind=Journal.Kind.REDEMPTION_VOID,
            lines=[
                outstanding_line(
                    initiative_id=voucher.initiative_id,
                    voucher_id=voucher.pk,
                    amount=redemption.amount,
                ),
                payable_line(
                    merchant_id=redemption.merchant_id,
                    amount=-redemption.amount,
                    voucher_id=voucher.pk,
                ),
            ],
            memo=f"Annullo {redemption.receipt_number}",
            created_by=till.user,
        )
        redemption.status = Redemption.Status.VOIDED
        redemption.voided_at = timezone.now()
        redemption.voided_by = till.user
        redemption.save(update_fields=["status", "voided_at", "voided_by"])
    return redemption
