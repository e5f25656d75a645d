"""A call's phases: publication, closing of the intake, archiving."""

from django.db import transaction

from core.money import ZERO
from vouchers.errors import ProgrammeError
from vouchers.models import Initiative
from vouchers.selectors.budget import initiative_budget_available

# Calls whose benefit is paid by transfer to the IBAN given with the application.
PAID_BY_TRANSFER = (Initiative.BenefitKind.REIMBURSEMENT, Initiative.BenefitKind.CASH_TRANSFER)

VOUCHER_KINDS = (Initiative.BenefitKind.VOUCHER_CARD, Initiative.BenefitKind.FIXED_BUONI)


# The three helpers below are shared by the services of a call's phases (ranking, issuing,
# waiting list); screens call the services, never these.
def _guard_status(initiative: Initiative, *allowed: str) -> None:
    if initiative.status not in allowed:
        raise ProgrammeError("invalid_transition", status=initiative.get_status_display())


def _set_status(initiative: Initiative, status: str) -> Initiative:
    initiative.status = status
    initiative.save(update_fields=["status"])
    return initiative


def _locked(initiative: Initiative) -> Initiative:
    return Initiative.objects.select_for_update().get(pk=initiative.pk)


def initiative_publish(*, initiative: Initiative) -> Initiative:
    """Publish a draft call once it has a window, a budget, municipalities and categories."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.DRAFT)
        if not (initiative.applications_open_at and initiative.applications_close_at):
            raise ProgrammeError("window_missing")
        if not initiative.municipalities.exists():
            raise ProgrammeError("municipalities_missing")
        if initiative.benefit_kind in VOUCHER_KINDS and not initiative.allowed_categories.exists():
            raise ProgrammeError("categories_missing")
        if initiative_budget_available(initiative=initiative) <= ZERO:
            raise ProgrammeError("budget_missing")
        return _set_status(initiative, Initiative.Status.PUBLISHED)


def initiative_close(*, initiative: Initiative) -> Initiative:
    """Close a published call to new applications."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.PUBLISHED)
        return _set_status(initiative, Initiative.Status.CLOSED)


def initiative_archive(*, initiative: Initiative) -> Initiative:
    """Archive a call whose benefits have been issued (or that was ranked and is over)."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.ISSUED, Initiative.Status.RANKED)
        return _set_status(initiative, Initiative.Status.ARCHIVED)
