"""The end of a voucher: expiry once its validity is over, or revocation by the office.

Either way its residual goes back to the call's budget, where it can fund the waiting list.
"""

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.models import Journal
from core.money import ZERO
from core.services.ledger import journal_post
from vouchers.errors import VoucherError
from vouchers.models import Initiative, Voucher
from vouchers.services.budget import budget_line, outstanding_line
from vouchers.services.waiting_list import initiative_reassign_budget


def _close_voucher(
    *, voucher: Voucher, status: str, journal_kind: str, reason: str, closed_by: User | None
) -> Voucher:
    """Close a locked voucher and return its residual to the call's budget."""
    residual = voucher.balance
    if residual > ZERO:
        journal_post(
            kind=journal_kind,
            lines=[
                outstanding_line(
                    initiative_id=voucher.initiative_id, voucher_id=voucher.pk, amount=-residual
                ),
                budget_line(initiative=voucher.initiative, amount=residual),
            ],
            memo=f"{voucher.code_hint}: {reason}"[:255],
            created_by=closed_by,
        )
    voucher.balance = ZERO
    voucher.status = status
    voucher.closed_at = timezone.now()
    voucher.closed_reason = reason[:255]
    voucher.save(update_fields=["balance", "status", "closed_at", "closed_reason"])
    return voucher


def voucher_expire(*, voucher: Voucher, today: date | None = None) -> Voucher:
    """Expire a voucher past its validity; its residual goes back to the call's budget.

    Only an active voucher expires; expiring any other (expired, revoked, or already spent
    in full) changes nothing.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("initiative")
            .get(pk=voucher.pk)
        )
        if voucher.status != Voucher.Status.ACTIVE:
            return voucher
        if voucher.valid_until >= today:
            raise VoucherError("not_expired_yet")
        return _close_voucher(
            voucher=voucher,
            status=Voucher.Status.EXPIRED,
            journal_kind=Journal.Kind.VOUCHER_EXPIRED,
            reason="scadenza",
            closed_by=None,
        )


def vouchers_expire_due(*, today: date | None = None) -> int:
    """Expire every voucher whose validity ended before ``today``; return how many.

    Each residual returns to its call's budget; a call whose validity has not ended uses it
    for the next people on its waiting list (scorrimento).
    """
    today = today or timezone.localdate()
    due = Voucher.objects.filter(valid_until__lt=today, status=Voucher.Status.ACTIVE).values_list(
        "pk", "initiative_id"
    )
    count = 0
    initiative_ids: set[int] = set()
    for pk, initiative_id in due.iterator(chunk_size=1000):
        voucher_expire(voucher=Voucher(pk=pk), today=today)
        initiative_ids.add(initiative_id)
        count += 1
    # The residuals are back in the budget: while a call still runs, they fund its waiting list.
    for initiative in Initiative.objects.filter(pk__in=initiative_ids, valid_until__gte=today):
        initiative_reassign_budget(initiative=initiative)
    return count


def voucher_revoke(*, voucher: Voucher, reason: str, revoked_by: User | None = None) -> Voucher:
    """Revoke a voucher (for example, the holder lost the right); the residual goes back.

    Revoking a revoked voucher again changes nothing.
    """
    reason = (reason or "").strip()
    if not reason:
        raise VoucherError("reason_required")
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("initiative")
            .get(pk=voucher.pk)
        )
        if voucher.status == Voucher.Status.REVOKED:
            return voucher
        if voucher.status == Voucher.Status.EXPIRED:
            raise VoucherError("voucher_expired")
        return _close_voucher(
            voucher=voucher,
            status=Voucher.Status.REVOKED,
            journal_kind=Journal.Kind.VOUCHER_REVOKED,
            reason=reason,
            closed_by=revoked_by,
        )
