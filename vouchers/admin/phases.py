"""The phases of a call in the admin: one button (and one bulk action) per service.

Publication, closing, ranking and archiving live on the call's page (and in its list's
actions); so do the issuing (``vouchers.admin.issuing``), the outcome messages and letters
(``vouchers.admin.outcomes``) and the import of a desk's backlog (``vouchers.admin.imports``),
which build on the base here. Each button asks for confirmation on the shared form page,
calls one service and turns a domain error into a message: the call's status changes only
through them.
"""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from core.admin.toolkit import (
    ConfirmForm,
    action_form_page,
    bound_if_confirmed,
    change_url,
    changelist_url,
    euro,
    status_badge,
)
from core.errors import DomainError
from core.money import ZERO
from vouchers.models import (
    Application,
    Initiative,
    Voucher,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.initiatives import (
    PAID_BY_TRANSFER,
    initiative_archive,
    initiative_close,
    initiative_publish,
)
from vouchers.services.ranking import initiative_rank

Status = Initiative.Status

# A bulk action lists every selected row on its confirmation page; past this many, staff
# narrow the selection with the filters first.
MAX_BULK_SELECTION = 1000
APPLICATION_STATUS_VARIANTS = {
    Application.Status.SUBMITTED: "warning",
    Application.Status.INFO_REQUESTED: "info",
    Application.Status.APPROVED: "success",
    Application.Status.REJECTED: "danger",
    Application.Status.WITHDRAWN: "info",
}


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A PDF to download; it names people, so no cache may keep a copy."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- the phases of a call ----------------------------------------------------------------


class Step:
    """One lifecycle service, with what its confirmation page says."""

    def __init__(self, service, *, title, verb, description, done, danger=False):
        self.service = service
        self.title = title
        self.verb = verb
        self.description = description
        self.done = done
        self.danger = danger


STEPS = {
    "publish": Step(
        initiative_publish,
        title=_("Pubblica il bando"),
        verb=_("Pubblica"),
        description=_(
            "Il bando compare nella pagina pubblica e riceve domande tra l'apertura e la "
            "chiusura indicate. Servono finestra delle domande, comuni, categorie e budget."
        ),
        done=_("%(initiative)s: pubblicato."),
    ),
    "close": Step(
        initiative_close,
        title=_("Chiudi le domande"),
        verb=_("Chiudi le domande"),
        description=_(
            "Il bando non riceve più domande. Le domande ancora da istruire vanno decise "
            "prima di approvare la graduatoria."
        ),
        done=_("%(initiative)s: domande chiuse."),
    ),
    "rank": Step(
        initiative_rank,
        title=_("Approva la graduatoria"),
        verb=_("Approva la graduatoria"),
        description=_(
            "Le domande ammesse sono ordinate secondo i criteri del bando; il budget "
            "finanzia le prime, le altre vanno in lista d'attesa."
        ),
        done=_("%(initiative)s: graduatoria approvata."),
    ),
    "archive": Step(
        initiative_archive,
        title=_("Archivia il bando"),
        verb=_("Archivia"),
        description=_(
            "Il bando archiviato resta consultabile ma non emette altri buoni. "
            "L'operazione non si annulla."
        ),
        done=_("%(initiative)s: archiviato."),
        danger=True,
    ),
}

# Which buttons the call's page shows in each status; the services guard the rest.
ISSUE_BUTTONS = {
    Initiative.BenefitKind.CASH_TRANSFER: _("Assegna i contributi"),
    Initiative.BenefitKind.REIMBURSEMENT: _("Conferma i rimborsi ammessi"),
}

DETAIL_ACTION_STATUSES = {
    "publish_detail": {Status.DRAFT},
    "close_detail": {Status.PUBLISHED},
    "rank_detail": {Status.CLOSED},
    "issue_run_detail": {Status.RANKED, Status.ISSUED},
    "archive_detail": {Status.RANKED, Status.ISSUED},
    "import_applications_detail": {Status.PUBLISHED},
    "notify_detail": {Status.CLOSED, Status.RANKED, Status.ISSUED},
    "letters_detail": {Status.CLOSED, Status.RANKED, Status.ISSUED, Status.ARCHIVED},
    "assign_budget_detail": set(Status.values) - {Status.ARCHIVED},
    "waiting_list_propose_detail": {Status.RANKED, Status.ISSUED},
    "waiting_list_approve_detail": {Status.RANKED, Status.ISSUED},
}


class InitiativeActionsBase:
    """What every button of the call's page shares: the object, the selection, the status."""

    def _detail_state(self, request, object_id) -> dict | None:
        cache = getattr(request, "_initiative_state", None)
        if cache is not None and cache["pk"] == str(object_id):
            return cache
        row = (
            Initiative.objects.filter(pk=unquote(str(object_id)))
            .annotate(
                has_applications=Exists(Application.objects.filter(initiative=OuterRef("pk"))),
                has_vouchers=Exists(Voucher.objects.filter(initiative=OuterRef("pk"))),
            )
            .values("status", "benefit_kind", "has_applications", "has_vouchers")
            .first()
        )
        state = {"pk": str(object_id), **(row or {})}
        request._initiative_state = state
        return state if row else None

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        if not object_id:
            return actions
        state = self._detail_state(request, object_id)
        if state is None:
            return []
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        shown = []
        for unfold_action in actions:
            name = unfold_action.action_name.removeprefix(prefix)
            if name in DETAIL_ACTION_STATUSES:
                if state["status"] not in DETAIL_ACTION_STATUSES[name]:
                    continue
            elif name == "print_vouchers_detail" and not state["has_vouchers"]:
                continue
            elif name == "issue_residents_detail" and (
                state["has_applications"]
                or state["status"] == Status.ARCHIVED
                or state["benefit_kind"] in PAID_BY_TRANSFER
            ):
                continue
            if name == "issue_run_detail" and state["benefit_kind"] in ISSUE_BUTTONS:
                # A call paid by transfer issues no vouchers: the button says what it does.
                unfold_action.description = ISSUE_BUTTONS[state["benefit_kind"]]
            shown.append(unfold_action)
        return shown

    def _initiative(self, request, object_id) -> Initiative:
        initiative = self.get_object(request, unquote(object_id))
        if initiative is None:
            raise Http404
        return initiative

    def _selected(self, request, queryset) -> list[Initiative] | None:
        initiatives = list(queryset.order_by("pk")[: MAX_BULK_SELECTION + 1])
        if len(initiatives) > MAX_BULK_SELECTION:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d bandi alla volta.") % {"max": MAX_BULK_SELECTION},
                messages.ERROR,
            )
            return None
        return initiatives

    def _initiatives_table(self, initiatives) -> dict:
        return {
            "headers": [_("Bando"), _("Stato"), _("Domande dal"), _("Domande fino al")],
            "rows": [
                [
                    initiative.title,
                    initiative.get_status_display(),
                    initiative.applications_open_at or "—",
                    initiative.applications_close_at or "—",
                ]
                for initiative in initiatives
            ],
        }

    # Publish, close, rank, archive: one service each.


class InitiativePhasesMixin(InitiativeActionsBase):
    """Publish, close, rank and archive a call; mixed into ``InitiativeAdmin``."""

    def has_lifecycle_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative")

    def has_budget_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative")

    def _run_step(self, request, initiative, name: str) -> bool:
        step = STEPS[name]
        try:
            step.service(initiative=initiative)
        except DomainError as exc:
            self.message_user(request, f"{initiative}: {exc.detail}", messages.ERROR)
            return False
        self.message_user(request, step.done % {"initiative": initiative}, messages.SUCCESS)
        if name == "rank":
            self._report_ranking(request, initiative)
        return True

    def _report_ranking(self, request, initiative) -> None:
        figures = initiative.applications.filter(status=Application.Status.APPROVED).aggregate(
            funded=Count("pk", filter=Q(outcome=Application.Outcome.FUNDED)),
            waiting=Count("pk", filter=Q(outcome=Application.Outcome.WAITING)),
            committed=Coalesce(
                Sum("amount", filter=Q(outcome=Application.Outcome.FUNDED)),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
        self.message_user(
            request,
            _("%(funded)d domande finanziate (%(amount)s), %(waiting)d in lista d'attesa.")
            % {
                "funded": figures["funded"],
                "waiting": figures["waiting"],
                "amount": euro(figures["committed"]),
            },
            messages.INFO,
        )

    def _step_summary(self, initiative, name: str) -> list[tuple]:
        counts = dict(
            initiative.applications.order_by()
            .values_list("status")
            .annotate(count=Count("pk"))
            .values_list("status", "count")
        )
        summary = [
            (_("Stato attuale"), initiative.get_status_display()),
            (_("Budget disponibile"), euro(initiative_budget_available(initiative=initiative))),
        ]
        if name == "publish":
            summary += [
                (_("Domande dal"), initiative.applications_open_at or "—"),
                (_("Domande fino al"), initiative.applications_close_at or "—"),
                (
                    _("Comuni"),
                    ", ".join(str(m) for m in initiative.municipalities.all()) or "—",
                ),
            ]
        else:
            for status, label in Application.Status.choices:
                summary.append(
                    (_("Domande: %(status)s") % {"status": label}, counts.get(status, 0))
                )
        return summary

    def _step_detail(self, request, object_id, name: str):
        initiative = self._initiative(request, object_id)
        step = STEPS[name]
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            self._run_step(request, initiative, name)
            return HttpResponseRedirect(change_url(initiative))
        return action_form_page(
            request,
            self,
            title=step.title,
            description=step.description,
            form=ConfirmForm(),
            summary=self._step_summary(initiative, name),
            submit_label=step.verb,
            obj=initiative,
            danger=step.danger,
        )

    def _step_bulk(self, request, queryset, name: str, bulk_action: str):
        initiatives = self._selected(request, queryset)
        if initiatives is None:
            return None
        step = STEPS[name]
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            for initiative in initiatives:
                self._run_step(request, initiative, name)
            return None
        return action_form_page(
            request,
            self,
            title=step.title,
            description=step.description,
            form=ConfirmForm(),
            table=self._initiatives_table(initiatives),
            submit_label=step.verb,
            bulk_action=bulk_action,
            selected=[initiative.pk for initiative in initiatives],
            danger=step.danger,
        )

    @action(description=_("Pubblica"), permissions=["lifecycle"])
    def publish_initiatives(self, request, queryset):
        return self._step_bulk(request, queryset, "publish", "publish_initiatives")

    @action(description=_("Chiudi le domande"), permissions=["lifecycle"])
    def close_initiatives(self, request, queryset):
        return self._step_bulk(request, queryset, "close", "close_initiatives")

    @action(description=_("Approva la graduatoria"), permissions=["lifecycle"])
    def rank_initiatives(self, request, queryset):
        return self._step_bulk(request, queryset, "rank", "rank_initiatives")

    @action(description=_("Archivia"), permissions=["lifecycle"])
    def archive_initiatives(self, request, queryset):
        return self._step_bulk(request, queryset, "archive", "archive_initiatives")

    @action(
        description=_("Pubblica"),
        url_path="pubblica",
        icon="campaign",
        variant=ActionVariant.PRIMARY,
        permissions=["lifecycle"],
    )
    def publish_detail(self, request, object_id):
        return self._step_detail(request, object_id, "publish")

    @action(
        description=_("Chiudi le domande"),
        url_path="chiudi",
        icon="lock",
        variant=ActionVariant.PRIMARY,
        permissions=["lifecycle"],
    )
    def close_detail(self, request, object_id):
        return self._step_detail(request, object_id, "close")

    @action(
        description=_("Approva graduatoria"),
        url_path="graduatoria",
        icon="format_list_numbered",
        variant=ActionVariant.PRIMARY,
        permissions=["lifecycle"],
    )
    def rank_detail(self, request, object_id):
        return self._step_detail(request, object_id, "rank")

    @action(
        description=_("Archivia"),
        url_path="archivia",
        icon="inventory_2",
        permissions=["lifecycle"],
    )
    def archive_detail(self, request, object_id):
        return self._step_detail(request, object_id, "archive")

    # Read-only panels of the call's page.

    @display(description=_("domande"))
    def applications_detail(self, obj):
        if obj.pk is None:
            return "—"
        counts = dict(
            obj.applications.order_by()
            .values_list("status")
            .annotate(count=Count("pk"))
            .values_list("status", "count")
        )
        rows = [
            [
                status_badge(label, APPLICATION_STATUS_VARIANTS[status]),
                format_html(
                    '<a href="{}" class="text-link">{}</a>',
                    changelist_url(Application, initiative__id__exact=obj.pk, status__exact=status),
                    counts.get(status, 0),
                ),
            ]
            for status, label in Application.Status.choices
        ]
        table = render_to_string(
            "unfold/components/table.html",
            {"table": {"headers": [_("Stato"), _("Domande")], "rows": rows}},
        )
        if obj.status != Status.PUBLISHED:
            return table
        add_url = f"{reverse('admin:vouchers_application_add')}?initiative={obj.pk}"
        return format_html(
            '{}<a href="{}" class="text-link">{}</a>',
            table,
            add_url,
            _("Nuova domanda allo sportello"),
        )
