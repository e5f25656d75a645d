"""Issuing a ranked call's benefit: vouchers, or cash grants, chunk by chunk or as a queued run."""

from collections.abc import Callable, Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from core.bulk import bulk_insert
from core.errors import DomainError
from core.models import Journal
from core.money import ZERO
from core.services.ledger import journal_post
from vouchers.codes import generate_code
from vouchers.errors import ProgrammeError, VoucherError
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    IssuanceRun,
    Voucher,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.budget import budget_line, outstanding_line
from vouchers.services.cash_grants import cash_grants_award
from vouchers.services.initiatives import VOUCHER_KINDS, _guard_status, _locked, _set_status
from vouchers.services.issuance import issuance_run_enqueue, issuance_run_needs_queue
from vouchers.services.notifications import initiative_notify_outcomes

# Beneficiary ids per query when looking for those already served: under the 32,766 bound
# variables some SQLite builds allow, and few round trips on PostgreSQL.
SERVED_LOOKUP_CHUNK = 10_000


def voucher_issue_bulk(
    *,
    initiative: Initiative,
    beneficiaries: Iterable[Beneficiary],
    quantity: int = 1,
    medium: str = Voucher.Medium.DIGITAL,
    issued_by: User | None = None,
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
        served: set[int] = set()
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
    issued_by: User | None = None,
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


# Applications issued per transaction and journal: each commit waits for its WAL to reach
# the disk, and each chunk costs a dozen round trips.
ISSUE_CHUNK_SIZE = 5000


def _voucher_values(initiative: Initiative, amount: Decimal) -> list[Decimal]:
    if initiative.benefit_kind == Initiative.BenefitKind.FIXED_BUONI:
        return [initiative.face_value] * int(amount / initiative.face_value)
    return [amount]


def _locked_for_issue(initiative: Initiative) -> Initiative:
    initiative = _locked(initiative)
    if initiative.status not in (Initiative.Status.RANKED, Initiative.Status.ISSUED):
        raise ProgrammeError("invalid_transition", status=initiative.get_status_display())
    return initiative


def _funded_to_issue(
    initiative: Initiative, application_ids: list[int]
) -> list[tuple[int, int, Decimal | None]]:
    """Lock the funded applications among these ids: ``(id, applicant id, amount)`` rows."""
    return list(
        Application.objects.select_for_update()
        .filter(
            pk__in=application_ids,
            initiative=initiative,
            outcome=Application.Outcome.FUNDED,
            status=Application.Status.APPROVED,
        )
        .order_by("pk")
        .values_list("pk", "applicant_id", "amount")
    )


def _mark_issued(applications: list[tuple[int, int, Decimal | None]]) -> None:
    Application.objects.filter(pk__in=[pk for pk, _applicant, _amount in applications]).update(
        outcome=Application.Outcome.ISSUED
    )


def _claim_funded(
    initiative: Initiative, application_ids: list[int]
) -> list[tuple[int, int, Decimal | None]]:
    """Mark the funded applications among these ids issued: their ``(id, applicant id, amount)``.

    Called inside the issuing transaction, so that they are funded again if what follows
    fails. On PostgreSQL one ``UPDATE … RETURNING`` locks, re-checks and marks each row, with
    the ids as one array: a chunk's rows are written once, not locked and then rewritten, and
    no statement carries a thousand placeholders. Elsewhere they are locked, read and marked.
    """
    if connection.vendor != "postgresql":
        applications = _funded_to_issue(initiative, application_ids)
        _mark_issued(applications)
        return applications
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vouchers_application SET outcome = %s"
            " WHERE id = ANY(%s::bigint[]) AND initiative_id = %s AND outcome = %s AND status = %s"
            " RETURNING id, applicant_id, amount",
            [
                Application.Outcome.ISSUED,
                list(application_ids),
                initiative.pk,
                Application.Outcome.FUNDED,
                Application.Status.APPROVED,
            ],
        )
        return sorted(cursor.fetchall())


def applications_vouchers_issue(
    *,
    initiative: Initiative,
    application_ids: list[int],
    issued_by: User | None = None,
    medium: str = Voucher.Medium.DIGITAL,
) -> list[Voucher]:
    """Issue the vouchers of funded applications in one transaction and one journal.

    Applications already issued, or no longer funded, are skipped: a retried chunk never
    gives anyone a second voucher. A call that pays by transfer issues no voucher.
    """
    with transaction.atomic():
        initiative = _locked_for_issue(initiative)
        if initiative.benefit_kind not in VOUCHER_KINDS:
            raise ProgrammeError("not_a_voucher_call")
        applications = _claim_funded(initiative, application_ids)
        if not applications:
            return []
        vouchers = vouchers_create(
            initiative=initiative,
            grants=[
                (applicant_id, pk, value)
                for pk, applicant_id, amount in applications
                for value in _voucher_values(initiative, amount or ZERO)
            ],
            medium=medium,
            issued_by=issued_by,
        )
    return vouchers


def applications_cash_grants_issue(
    *, initiative: Initiative, application_ids: list[int], issued_by: User | None = None
) -> int:
    """Grant the cash of funded applications in one transaction and one journal.

    Each amount moves from the call's budget to what the agency owes the person, to be paid
    in a beneficiary payment batch; the application is issued. Applications already issued,
    or no longer funded, are skipped, so a retried chunk never grants twice; a budget that
    cannot cover the chunk refuses it whole.
    """
    with transaction.atomic():
        initiative = _locked_for_issue(initiative)
        if initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER:
            raise ProgrammeError("invalid_transition", status=initiative.get_status_display())
        applications = _claim_funded(initiative, application_ids)
        if not applications:
            return 0
        granted = cash_grants_award(
            initiative=initiative, applications=applications, granted_by=issued_by
        )
    return granted


def applications_issue(
    *,
    initiative: Initiative,
    application_ids: list[int],
    issued_by: User | None = None,
    medium: str = Voucher.Medium.DIGITAL,
) -> int:
    """Issue the benefit of funded applications by the call's kind; return how many.

    Vouchers (counted one by one) for a voucher call; the cash grants, for a cash call; a
    reimbursement call issues nothing (see ``initiative_issue``).
    """
    if initiative.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER:
        return applications_cash_grants_issue(
            initiative=initiative, application_ids=application_ids, issued_by=issued_by
        )
    if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        return 0
    return len(
        applications_vouchers_issue(
            initiative=initiative,
            application_ids=application_ids,
            issued_by=issued_by,
            medium=medium,
        )
    )


def initiative_issue(
    *,
    initiative: Initiative,
    issued_by: User | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Issue the benefit of every funded application, chunk by chunk; return how many.

    By the call's kind: vouchers (the count is of vouchers), or cash grants moved to
    what the agency owes each person, to be paid by transfer (the count is of applications).
    A reimbursement call issues nothing: its funded applications are already entitled to
    claim up to their amount, and the budget is spent claim by claim as claims are approved;
    issuing it only confirms those entitlements, moving the call to issued (the
    applications stay funded, so what they may still claim stays committed).

    Each chunk commits on its own, so an interrupted run is resumed by running it again.
    ``progress(done, total)`` is called after each chunk.
    """
    initiative = Initiative.objects.get(pk=initiative.pk)
    _guard_status(initiative, Initiative.Status.RANKED, Initiative.Status.ISSUED)
    pending = []
    if initiative.benefit_kind != Initiative.BenefitKind.REIMBURSEMENT:
        pending = list(
            initiative.applications.filter(
                outcome=Application.Outcome.FUNDED, status=Application.Status.APPROVED
            )
            .order_by("rank")
            .values_list("pk", flat=True)
        )
    issued = 0
    for start in range(0, len(pending), ISSUE_CHUNK_SIZE):
        chunk = pending[start : start + ISSUE_CHUNK_SIZE]
        issued += applications_issue(
            initiative=initiative, application_ids=chunk, issued_by=issued_by
        )
        if progress is not None:
            progress(min(start + ISSUE_CHUNK_SIZE, len(pending)), len(pending))
    with transaction.atomic():
        initiative = _locked(initiative)
        if initiative.status == Initiative.Status.RANKED:
            _set_status(initiative, Initiative.Status.ISSUED)
    if initiative.benefit_kind in VOUCHER_KINDS:
        # Those already told they were funded were promised a notice once the vouchers exist.
        initiative_notify_outcomes(initiative=initiative, vouchers_available_only=True)
    return issued


def issuance_run_start(*, initiative: Initiative, started_by: User | None = None) -> IssuanceRun:
    """Queue the bulk issuing of a ranked call; the work runs as a task after commit.

    A run already on its way is returned; one the queue never took, or that waited too long
    for a worker, is handed to the queue again (``vouchers.services.issuance``). The run returned says
    whether the queue took it (``queued_at``) or why not (``error``).
    """
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.RANKED, Initiative.Status.ISSUED)
        run = initiative.issuance_runs.filter(
            status__in=[IssuanceRun.Status.QUEUED, IssuanceRun.Status.RUNNING]
        ).first()
        if run is None:
            run = IssuanceRun.objects.create(initiative=initiative, started_by=started_by)
        elif not issuance_run_needs_queue(run):
            return run
        run_id = run.pk
        transaction.on_commit(lambda: issuance_run_enqueue(run_id=run_id))
    run.refresh_from_db()
    return run


def issuance_run_execute(*, run: IssuanceRun) -> IssuanceRun:
    """Do the issuing of a queued run, recording progress after each chunk."""
    run = IssuanceRun.objects.select_related("initiative").get(pk=run.pk)
    if run.status == IssuanceRun.Status.DONE:
        return run
    IssuanceRun.objects.filter(pk=run.pk).update(status=IssuanceRun.Status.RUNNING)

    def progress(done: int, total: int) -> None:
        IssuanceRun.objects.filter(pk=run.pk).update(done=done, total=total)

    try:
        issued = initiative_issue(
            initiative=run.initiative, issued_by=run.started_by, progress=progress
        )
    except DomainError as error:
        IssuanceRun.objects.filter(pk=run.pk).update(
            status=IssuanceRun.Status.FAILED, error=error.detail, finished_at=timezone.now()
        )
    else:
        IssuanceRun.objects.filter(pk=run.pk).update(
            status=IssuanceRun.Status.DONE, vouchers_issued=issued, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run
