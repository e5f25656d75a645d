"""Scorrimento from the call's page: one person proposes it, another approves it."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from core.admin.toolkit import ConfirmForm, action_form_page, bound_if_confirmed, change_url, euro
from core.errors import DomainError
from core.money import ZERO
from vouchers.admin.phases import InitiativeActionsBase
from vouchers.admin.scoping import visible_applications
from vouchers.models import Application, Initiative
from vouchers.selectors.budget import waiting_list_fundable, waiting_list_pending
from vouchers.services.waiting_list import (
    waiting_list_funding_approve,
    waiting_list_funding_propose,
)


def suggest_waiting_list(model_admin, request, initiative_ids) -> None:
    """Point staff to the scorrimento when money came back to a ranked call with a waiting list."""
    calls = Initiative.objects.filter(
        pk__in=set(initiative_ids),
        status__in=[Initiative.Status.RANKED, Initiative.Status.ISSUED],
        applications__outcome=Application.Outcome.WAITING,
        applications__status=Application.Status.APPROVED,
    ).distinct()
    for initiative in calls:
        hint = _(
            "Ci sono domande in lista d'attesa: proponi lo scorrimento dal menu «Lista d'attesa» "
            "del bando."
        )
        model_admin.message_user(request, f"{initiative}: {hint}", messages.INFO)


class InitiativeWaitingListMixin(InitiativeActionsBase):
    """Propose and approve a scorrimento; mixed into ``InitiativeAdmin``."""

    def _applications_table(self, request, applications: list[Application]) -> dict:
        names = dict(
            visible_applications(request)
            .filter(pk__in=[a.pk for a in applications])
            .values_list("pk", "applicant__last_name")
        )
        return {
            "headers": [_("Posizione"), _("Protocollo"), _("Richiedente"), _("Importo")],
            "rows": [
                [
                    application.rank,
                    application.protocol_number,
                    names.get(application.pk, "—"),
                    euro(application.amount or ZERO),
                ]
                for application in applications
            ],
        }

    @action(
        description=_("Proponi lo scorrimento"),
        url_path="proponi-scorrimento",
        icon="playlist_add",
        permissions=["lifecycle"],
    )
    def waiting_list_propose_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            try:
                funding = waiting_list_funding_propose(
                    initiative=initiative, proposed_by=request.user
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _(
                        "Scorrimento proposto: %(count)d domande per %(total)s. Ora serve "
                        "l'approvazione di un'altra persona."
                    )
                    % {"count": funding.applications.count(), "total": euro(funding.total)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url(initiative))
        free, fundable = waiting_list_fundable(initiative=initiative)
        pending = waiting_list_pending(initiative=initiative)
        waiting = initiative.applications.filter(
            outcome=Application.Outcome.WAITING, status=Application.Status.APPROVED
        ).count()
        return action_form_page(
            request,
            self,
            title=_("Proponi lo scorrimento della graduatoria"),
            description=_(
                "Il budget libero (nuovi fondi assegnati al bando, importi non spesi dei buoni "
                "revocati o scaduti) finanzia le prossime domande in lista d'attesa, in ordine "
                "di graduatoria. Un'altra persona deve approvare la proposta; allora le domande "
                "sono finanziate, i buoni emessi se il bando li ha già emessi, e i richiedenti "
                "avvisati."
            ),
            form=ConfirmForm(),
            summary=[
                (_("Budget libero"), euro(max(free, ZERO))),
                (_("Domande in lista d'attesa"), waiting),
                (_("Domande finanziabili ora"), len(fundable)),
                (_("Totale"), euro(sum((a.amount for a in fundable), ZERO))),
                *(
                    [(_("Proposta in attesa di approvazione"), _("sarà sostituita da questa"))]
                    if pending
                    else []
                ),
            ],
            table=self._applications_table(request, fundable),
            submit_label=_("Proponi lo scorrimento"),
            obj=initiative,
        )

    @action(
        description=_("Approva lo scorrimento"),
        url_path="approva-scorrimento",
        icon="fact_check",
        permissions=["lifecycle"],
    )
    def waiting_list_approve_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        pending = waiting_list_pending(initiative=initiative)
        if pending is None:
            self.message_user(request, _("Nessuno scorrimento da approvare."), messages.INFO)
            return HttpResponseRedirect(change_url(initiative))
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            try:
                funded = waiting_list_funding_approve(funding=pending, approved_by=request.user)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _(
                        "Scorrimento approvato: %(count)d domande finanziate; i richiedenti sono avvisati."
                    )
                    % {"count": len(funded)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url(initiative))
        applications = list(pending.applications.order_by("rank"))
        return action_form_page(
            request,
            self,
            title=_("Approva lo scorrimento della graduatoria"),
            description=_(
                "Approvando, le domande qui sotto sono finanziate (e ricevono i buoni se il "
                "bando li ha già emessi) e i richiedenti sono avvisati. Chi ha proposto lo "
                "scorrimento non può approvarlo."
            ),
            form=ConfirmForm(),
            summary=[
                (_("Proposto da"), pending.proposed_by),
                (
                    _("Proposto il"),
                    formats.date_format(timezone.localtime(pending.proposed_at), "DATETIME_FORMAT"),
                ),
                (_("Domande"), len(applications)),
                (_("Totale"), euro(pending.total)),
            ],
            table=self._applications_table(request, applications),
            submit_label=_("Approva e finanzia"),
            obj=initiative,
        )
