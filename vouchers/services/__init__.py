"""State changes of calls and vouchers, each with its ledger entry."""

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.bulk import bulk_insert
from core.models import Account, Fund, Journal
from core.money import ZERO, positive_euro
from core.selectors import account_balance, fund_balance
from core.services.funding import FundError
from core.services.ledger import Line, fund_account_line, journal_post
from vouchers.codes import generate_code
from vouchers.errors import VoucherError
from vouchers.models import Beneficiary, Initiative, Voucher


def budget_line(*, initiative: Initiative, amount: Decimal) -> Line:
    return Line(
        initiative.budget_account_key,
        amount,
        Account.Kind.INITIATIVE_BUDGET,
        f"Budget: {initiative.title}"[:200],
    )


def outstanding_line(*, initiative_id: int, voucher_id: int, amount: Decimal) -> Line:
    return Line(
        f"initiative:{initiative_id}:outstanding",
        amount,
        Account.Kind.VOUCHERS_OUTSTANDING,
        f"Buoni in circolazione del bando {initiative_id}",
        voucher_ref=voucher_id,
    )


def initiative_assign_budget(
    *, initiative: Initiative, amount: Decimal | str, assigned_by=None
) -> Journal:
    """Move money from the call's fund to its budget."""
    amount = positive_euro(amount)
    with transaction.atomic():
        fund = Fund.objects.select_for_update().get(pk=initiative.fund_id)
        if fund_balance(fund_id=fund.pk) < amount:
            raise FundError("insufficient_fund")
        return journal_post(
            kind=Journal.Kind.BUDGET_ASSIGNED,
            lines=[
                fund_account_line(fund=fund, amount=-amount),
                budget_line(initiative=initiative, amount=amount),
            ],
            memo=f"Budget → {initiative.title}",
            created_by=assigned_by,
        )


def initiative_budget_available(*, initiative: Initiative) -> Decimal:
    return account_balance(key=initiative.budget_account_key)


# Beneficiary ids per query when looking for those already served: under the 32,766 bound
# variables some SQLite builds allow, and few round trips on PostgreSQL.
SERVED_LOOKUP_CHUNK = 10_000


def voucher_issue_bulk(
    *,
    initiative: Initiative,
    beneficiaries: Iterable[Beneficiary],
    quantity: int = 1,
    medium: str = Voucher.Medium.DIGITAL,
    issued_by=None,
    code_factory: Callable[[], str] = generate_code,
) -> list[Voucher]:
    """Issue ``quantity`` vouchers to each beneficiary who holds none of this call yet.

    Safe to repeat: beneficiaries already served are skipped, so a retried batch never
    gives anyone a second set of vouchers. ``code_factory`` exists for the demo data,
    whose codes are derived from the secret key so that they stay the same across runs.
    """
    if quantity < 1:
        raise VoucherError("invalid_amount")
    beneficiaries = list(beneficiaries)
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        if initiative.status == Initiative.Status.ARCHIVED:
            raise VoucherError("initiative_archived")
        if initiative.benefit_kind in (
            Initiative.BenefitKind.REIMBURSEMENT,
            Initiative.BenefitKind.CASH_TRANSFER,
        ):
            raise VoucherError("not_a_voucher_call")
        municipality_ids = set(initiative.municipalities.values_list("id", flat=True))
        for beneficiary in beneficiaries:
            if beneficiary.municipality_id not in municipality_ids:
                raise VoucherError("beneficiary_not_resident", name=beneficiary.full_name)
        holder_ids = [b.pk for b in beneficiaries]
        served = set()
        for start in range(0, len(holder_ids), SERVED_LOOKUP_CHUNK):
            served.update(
                Voucher.objects.filter(
                    initiative=initiative,
                    beneficiary__in=holder_ids[start : start + SERVED_LOOKUP_CHUNK],
                ).values_list("beneficiary_id", flat=True)
            )
        to_serve = [b for b in beneficiaries if b.pk not in served]
        if not to_serve:
            return []
        return vouchers_create(
            initiative=initiative,
            grants=[
                (beneficiary.pk, None, initiative.face_value)
                for beneficiary in to_serve
                for _ in range(quantity)
            ],
            medium=medium,
            issued_by=issued_by,
            code_factory=code_factory,
        )


def vouchers_create(
    *,
    initiative: Initiative,
    grants: list[tuple[int, int | None, Decimal]],
    medium: str = Voucher.Medium.DIGITAL,
    issued_by=None,
    code_factory: Callable[[], str] = generate_code,
) -> list[Voucher]:
    """Create vouchers ``(holder id, application id or None, value)`` with one journal.

    Called inside its caller's transaction, with the call's row locked: refuses what the
    budget cannot cover, then moves the total from the budget to the vouchers outstanding.
    """
    total = sum((value for _holder, _application, value in grants), ZERO)
    if initiative_budget_available(initiative=initiative) < total:
        raise VoucherError("insufficient_budget")
    # One voucher is built by keywords; the others copy its values by position and change
    # the few that differ: keyword construction resolves every field by name and every
    # foreign key through its descriptor, a third of the time of a large issue.
    template = Voucher(
        code="",
        initiative=initiative,
        face_value=ZERO,
        balance=ZERO,
        partial_allowed=initiative.partial_allowed,
        valid_from=initiative.valid_from,
        valid_until=initiative.valid_until,
        medium=medium,
        issued_at=timezone.now(),
    )
    fields = [field.attname for field in Voucher._meta.concrete_fields]
    values = [getattr(template, name) for name in fields]
    code, holder, application, face_value, balance = (
        fields.index(name)
        for name in ("code", "beneficiary_id", "application_id", "face_value", "balance")
    )
    cache_initiative = Voucher.initiative.field.set_cached_value
    vouchers = []
    for holder_id, application_id, value in grants:
        values[code] = code_factory()
        values[holder] = holder_id
        values[application] = application_id
        values[face_value] = values[balance] = value
        voucher = Voucher(*values)
        cache_initiative(voucher, initiative)
        vouchers.append(voucher)
    vouchers = bulk_insert(vouchers, batch_size=2000)
    if vouchers:
        journal_post(
            kind=Journal.Kind.VOUCHERS_ISSUED,
            lines=[
                budget_line(initiative=initiative, amount=-total),
                *(
                    outstanding_line(
                        initiative_id=initiative.pk, voucher_id=v.pk, amount=v.face_value
                    )
                    for v in vouchers
                ),
            ],
            memo=f"{len(vouchers)} buoni · {initiative.title}"[:255],
            created_by=issued_by,
        )
    return vouchers


def _close_voucher(
    *, voucher: Voucher, status: str, journal_kind: str, reason: str, closed_by
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
    calls: set[int] = set()
    for pk, initiative_id in due.iterator(chunk_size=1000):
        voucher_expire(voucher=Voucher(pk=pk), today=today)
        calls.add(initiative_id)
        count += 1
    # The residuals are back in the budget: while a call still runs, they fund its waiting list.
    from vouchers.programme import initiative_reassign_budget

    for initiative in Initiative.objects.filter(pk__in=calls, valid_until__gte=today):
        initiative_reassign_budget(initiative=initiative)
    return count


def voucher_revoke(*, voucher: Voucher, reason: str, revoked_by=None) -> Voucher:
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
