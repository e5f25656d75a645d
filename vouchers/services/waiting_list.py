"""Scorrimento: the next applications of a ranking funded with money that came back.

Budget added to a ranked call, or the unspent amount of a revoked voucher (back in the
call's budget by its ledger entry), can fund the next people on the waiting list. One person
proposes which applications, for how much; another approves (four eyes). Approval funds
them, issues their benefit if the call has issued, and tells them.
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.money import ZERO, format_euro
from vouchers.models import (
    Application,
    Initiative,
    WaitingListFunding,
)
from vouchers.selectors.budget import waiting_list_fundable
from vouchers.services.initiatives import _locked
from vouchers.services.issuing import applications_issue
from vouchers.services.notifications import initiative_notify_outcomes


class WaitingListError(DomainError):
    """Why a scorrimento cannot be proposed or approved now."""

    messages = {
        "invalid_transition": _(
            "Il bando è «%(status)s»: lo scorrimento è possibile solo dopo la graduatoria."
        ),
        "nothing_to_fund": _(
            "Nessuna domanda in lista d'attesa si può finanziare con il budget libero (%(free)s)."
        ),
        "four_eyes": _("Lo scorrimento va approvato da una persona diversa da chi l'ha proposto."),
        "not_proposed": _("Questo scorrimento è «%(status)s»: non si può approvare."),
        "changed": _(
            "La lista d'attesa o il budget sono cambiati dopo la proposta: proponi di nuovo "
            "lo scorrimento."
        ),
    }


RUNNING = (Initiative.Status.RANKED, Initiative.Status.ISSUED)


def _locked_running(initiative: Initiative) -> Initiative:
    initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
    if initiative.status not in RUNNING:
        raise WaitingListError("invalid_transition", status=initiative.get_status_display())
    return initiative


def initiative_fund_waiting_list(*, initiative: Initiative) -> list[Application]:
    """Fund the next applications on the waiting list while the budget allows (scorrimento)."""
    with transaction.atomic():
        initiative = _locked(initiative)
        if initiative.status not in (Initiative.Status.RANKED, Initiative.Status.ISSUED):
            return []
        _free, funded = waiting_list_fundable(initiative=initiative)
        for application in funded:
            application.outcome = Application.Outcome.FUNDED
            application.save(update_fields=["outcome"])
        return funded


def initiative_reassign_budget(
    *, initiative: Initiative, issued_by: User | None = None
) -> list[Application]:
    """Fund the waiting list with money that came back, and issue to them if the call issued.

    The people funded are told their new outcome (after commit, like every outcome).
    """
    funded = initiative_fund_waiting_list(initiative=initiative)
    initiative.refresh_from_db(fields=["status"])
    if funded and initiative.status == Initiative.Status.ISSUED:
        applications_issue(
            initiative=initiative, application_ids=[a.pk for a in funded], issued_by=issued_by
        )
    if funded:
        initiative_notify_outcomes(initiative=initiative, application_ids=[a.pk for a in funded])
    return funded


def waiting_list_funding_propose(
    *, initiative: Initiative, proposed_by: User
) -> WaitingListFunding:
    """Propose funding the next waiting applications the free budget covers.

    A new proposal replaces one still waiting for approval.
    """
    with transaction.atomic():
        initiative = _locked_running(initiative)
        free, fundable = waiting_list_fundable(initiative=initiative)
        if not fundable:
            raise WaitingListError("nothing_to_fund", free=format_euro(max(free, ZERO)))
        initiative.waiting_list_fundings.filter(status=WaitingListFunding.Status.PROPOSED).update(
            status=WaitingListFunding.Status.SUPERSEDED
        )
        funding = WaitingListFunding.objects.create(
            initiative=initiative,
            total=sum((a.amount or ZERO for a in fundable), ZERO),  # fundable: amount > 0
            proposed_by=proposed_by,
            proposed_at=timezone.now(),
        )
        funding.applications.set(fundable)
    return funding


def waiting_list_funding_approve(
    *, funding: WaitingListFunding, approved_by: User
) -> list[Application]:
    """Approve a proposed scorrimento: fund its applications, issue if the call issued, tell them.

    The approver is never the proposer. The proposal must still be the head of the waiting
    list and fit the free budget; otherwise nothing changes and it must be proposed again.
    Approving an approved scorrimento again changes nothing.
    """
    with transaction.atomic():
        initiative = _locked_running(funding.initiative)
        funding = WaitingListFunding.objects.select_for_update().get(pk=funding.pk)
        if funding.status == WaitingListFunding.Status.APPROVED:
            return list(funding.applications.order_by("rank"))
        if funding.status != WaitingListFunding.Status.PROPOSED:
            raise WaitingListError("not_proposed", status=funding.get_status_display())
        if approved_by is None or approved_by.pk == funding.proposed_by_id:
            raise WaitingListError("four_eyes")
        proposed = list(funding.applications.order_by("rank").values_list("pk", flat=True))
        # Locked (in key order) so that no withdrawal slips in between the check and the write.
        list(
            Application.objects.select_for_update()
            .filter(pk__in=proposed)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _free, fundable = waiting_list_fundable(initiative=initiative)
        if [a.pk for a in fundable[: len(proposed)]] != proposed:
            raise WaitingListError("changed")
        Application.objects.filter(pk__in=proposed).update(outcome=Application.Outcome.FUNDED)
        if initiative.status == Initiative.Status.ISSUED:
            applications_issue(
                initiative=initiative, application_ids=proposed, issued_by=approved_by
            )
        funding.status = WaitingListFunding.Status.APPROVED
        funding.approved_by = approved_by
        funding.approved_at = timezone.now()
        funding.save(update_fields=["status", "approved_by", "approved_at"])
        initiative_notify_outcomes(initiative=initiative, application_ids=proposed)
    return list(Application.objects.filter(pk__in=proposed).order_by("rank"))
