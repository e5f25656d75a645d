"""Decisions on applications in the admin: the buttons and bulk actions of the validators
and of the desk, each asking for its reason and calling one service per application."""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminFileFieldWidget, UnfoldAdminTextareaWidget

from core.admin.toolkit import action_form_page, bound_if_confirmed, change_url, status_badge
from core.errors import DomainError
from vouchers.admin.intake import text_field
from vouchers.admin.phases import APPLICATION_STATUS_VARIANTS, MAX_BULK_SELECTION
from vouchers.models import Application
from vouchers.services.applications import (
    application_approve,
    application_document_add,
    application_reject,
    application_request_info,
    application_withdraw,
)
from vouchers.services.information_requests import information_request_answer


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Motivazione"),
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        error_messages={"required": _("Indica la motivazione: resta nello storico.")},
    )

    def __init__(self, *args, label=None, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        if label:
            self.fields["reason"].label = label
        self.fields["reason"].help_text = help_text


class DocumentForm(forms.Form):
    title = text_field(_("Descrizione"), 200, required=False)
    file = forms.FileField(
        label=_("File"),
        widget=UnfoldAdminFileFieldWidget,
        help_text=_("PDF, JPEG o PNG, al massimo 10 MB."),
        error_messages={"required": _("Scegli il file da allegare.")},
    )


# --- decisions ---------------------------------------------------------------------------


class Decision:
    """A decision on applications: its service, the words of its page and of its result."""

    def __init__(self, service, *, verb, title, description, label, done, danger=False):
        self.service = service
        self.verb = verb
        self.title = title
        self.description = description
        self.label = label
        self.done = done
        self.danger = danger


DECISIONS = {
    "approve": Decision(
        lambda application, reason, by: application_approve(
            application=application, reason=reason, by=by
        ),
        verb=_("Approva"),
        title=_("Ammissione delle domande"),
        description=_(
            "La domanda è ammessa e entrerà in graduatoria. Chi ha inserito una domanda non "
            "può deciderla: serve un altro convalidatore."
        ),
        label=_("Motivazione"),
        done=ngettext_lazy("%(count)d domanda ammessa.", "%(count)d domande ammesse.", "count"),
    ),
    "reject": Decision(
        lambda application, reason, by: application_reject(
            application=application, reason=reason, by=by
        ),
        verb=_("Respingi"),
        title=_("Respingimento delle domande"),
        description=_("La motivazione sarà comunicata al richiedente con l'esito."),
        label=_("Motivazione"),
        done=ngettext_lazy("%(count)d domanda respinta.", "%(count)d domande respinte.", "count"),
        danger=True,
    ),
    "request_info": Decision(
        lambda application, reason, by: application_request_info(
            application=application, reason=reason, by=by
        ),
        verb=_("Chiedi integrazione"),
        title=_("Richiesta di integrazione"),
        description=_(
            "La domanda resta sospesa finché il richiedente risponde (nell'app o allo "
            "sportello); poi torna da istruire."
        ),
        label=_("Che cosa manca"),
        done=ngettext_lazy(
            "Integrazione chiesta per %(count)d domanda.",
            "Integrazione chiesta per %(count)d domande.",
            "count",
        ),
    ),
    "answer": Decision(
        lambda application, reason, by: information_request_answer(
            application=application, note=reason, by=by
        ),
        verb=_("Registra risposta"),
        title=_("Risposta del richiedente"),
        description=_(
            "La risposta data allo sportello; gli eventuali documenti si allegano con "
            "«Aggiungi allegato». La domanda torna da istruire."
        ),
        label=_("Risposta del richiedente"),
        done=ngettext_lazy(
            "Risposta registrata per %(count)d domanda: torna da istruire.",
            "Risposta registrata per %(count)d domande: tornano da istruire.",
            "count",
        ),
    ),
    "withdraw": Decision(
        lambda application, reason, by: application_withdraw(
            application=application, reason=reason, by=by
        ),
        verb=_("Ritira"),
        title=_("Ritiro delle domande"),
        description=_(
            "La domanda ritirata non si riapre. I buoni già emessi sono revocati e il loro "
            "importo passa al primo in lista d'attesa."
        ),
        label=_("Motivo del ritiro"),
        done=ngettext_lazy("%(count)d domanda ritirata.", "%(count)d domande ritirate.", "count"),
        danger=True,
    ),
}
# Which buttons an application's page shows, by its status.
DECISION_STATUSES = {
    "approve": {Application.Status.SUBMITTED},
    "request_info": {Application.Status.SUBMITTED},
    "reject": {Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED},
    "answer": {Application.Status.INFO_REQUESTED},
    "withdraw": {
        Application.Status.SUBMITTED,
        Application.Status.INFO_REQUESTED,
        Application.Status.APPROVED,
    },
    "add_document": {
        Application.Status.SUBMITTED,
        Application.Status.INFO_REQUESTED,
        Application.Status.APPROVED,
    },
}
VALIDATOR_DECISIONS = {"approve", "reject", "request_info"}


class ApplicationDecisionsMixin:
    """The decisions of ``ApplicationAdmin``: which buttons show, their pages and actions."""

    # The buttons an application's page shows.

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        row = (
            Application.objects.filter(pk=unquote(str(object_id)))
            .values("status", "entered_by_id")
            .first()
        )
        if row is None:
            return []
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        shown = []
        for unfold_action in actions:
            name = unfold_action.action_name.removeprefix(prefix).removesuffix("_detail")
            if row["status"] not in DECISION_STATUSES.get(name, {row["status"]}):
                continue
            if name in VALIDATOR_DECISIONS and row["entered_by_id"] == request.user.pk:
                continue  # four eyes: the service refuses it anyway
            shown.append(unfold_action)
        return shown

    # Decisions: one service call per application, each with the reason asked first.

    def _decide(self, request, applications, name: str, reason: str) -> int:
        decision = DECISIONS[name]
        done = 0
        for application in applications:
            try:
                with transaction.atomic():
                    decision.service(application, reason, request.user)
            except DomainError as exc:
                self.message_user(
                    request, f"{application.protocol_number}: {exc.detail}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(request, decision.done % {"count": done}, messages.SUCCESS)
        return done

    def _applications_table(self, applications) -> dict:
        return {
            "headers": [
                _("Protocollo"),
                _("Richiedente"),
                _("Bando"),
                _("Stato"),
                _("Inserita da"),
            ],
            "rows": [
                [
                    application.protocol_number,
                    application.applicant.full_name,
                    application.initiative,
                    status_badge(
                        application.get_status_display(),
                        APPLICATION_STATUS_VARIANTS[application.status],
                    ),
                    application.entered_by or "—",
                ]
                for application in applications
            ],
        }

    def _decision_bulk(self, request, queryset, name: str):
        applications = list(
            queryset.select_related("applicant", "initiative", "entered_by").order_by("pk")[
                : MAX_BULK_SELECTION + 1
            ]
        )
        if len(applications) > MAX_BULK_SELECTION:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d domande alla volta.") % {"max": MAX_BULK_SELECTION},
                messages.ERROR,
            )
            return None
        decision = DECISIONS[name]
        form = bound_if_confirmed(DecisionForm, request, label=decision.label)
        if form.is_valid():
            self._decide(request, applications, name, form.cleaned_data["reason"])
            return None
        return action_form_page(
            request,
            self,
            title=decision.title,
            description=decision.description,
            form=form,
            table=self._applications_table(applications),
            submit_label=decision.verb,
            bulk_action=f"{name}_applications",
            selected=[application.pk for application in applications],
            danger=decision.danger,
        )

    def _application(self, request, object_id) -> Application:
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        return application

    def _decision_detail(self, request, object_id, name: str):
        application = self._application(request, object_id)
        decision = DECISIONS[name]
        form = bound_if_confirmed(DecisionForm, request, label=decision.label)
        if form.is_valid():
            try:
                with transaction.atomic():
                    decision.service(application, form.cleaned_data["reason"], request.user)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, decision.done % {"count": 1}, messages.SUCCESS)
                return HttpResponseRedirect(change_url(application))
        return action_form_page(
            request,
            self,
            title=decision.title,
            description=decision.description,
            form=form,
            table=self._applications_table([application]),
            submit_label=decision.verb,
            obj=application,
            danger=decision.danger,
        )

    @action(description=_("Approva"), permissions=["decide"])
    def approve_applications(self, request, queryset):
        return self._decision_bulk(request, queryset, "approve")

    @action(description=_("Chiedi integrazione"), permissions=["decide"])
    def request_info_applications(self, request, queryset):
        return self._decision_bulk(request, queryset, "request_info")

    @action(description=_("Respingi"), permissions=["decide"])
    def reject_applications(self, request, queryset):
        return self._decision_bulk(request, queryset, "reject")

    @action(description=_("Registra risposta"), permissions=["desk"])
    def answer_applications(self, request, queryset):
        return self._decision_bulk(request, queryset, "answer")

    @action(description=_("Ritira"), permissions=["desk"])
    def withdraw_applications(self, request, queryset):
        return self._decision_bulk(request, queryset, "withdraw")

    @action(
        description=_("Approva"),
        url_path="approva",
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
        permissions=["decide"],
    )
    def approve_detail(self, request, object_id):
        return self._decision_detail(request, object_id, "approve")

    @action(
        description=_("Chiedi integrazione"),
        url_path="integrazione",
        icon="help",
        variant=ActionVariant.WARNING,
        permissions=["decide"],
    )
    def request_info_detail(self, request, object_id):
        return self._decision_detail(request, object_id, "request_info")

    @action(
        description=_("Respingi"),
        url_path="respingi",
        icon="cancel",
        variant=ActionVariant.DANGER,
        permissions=["decide"],
    )
    def reject_detail(self, request, object_id):
        return self._decision_detail(request, object_id, "reject")

    @action(
        description=_("Registra risposta"),
        url_path="risposta",
        icon="reply",
        permissions=["desk"],
    )
    def answer_detail(self, request, object_id):
        return self._decision_detail(request, object_id, "answer")

    @action(description=_("Ritira"), url_path="ritira", icon="undo", permissions=["desk"])
    def withdraw_detail(self, request, object_id):
        return self._decision_detail(request, object_id, "withdraw")

    @action(
        description=_("Aggiungi allegato"),
        url_path="allega",
        icon="attach_file",
        permissions=["document"],
    )
    def add_document_detail(self, request, object_id):
        application = self._application(request, object_id)
        form = DocumentForm(
            request.POST if request.method == "POST" and "confirm" in request.POST else None,
            request.FILES if request.method == "POST" else None,
        )
        if form.is_valid():
            try:
                application_document_add(
                    application=application,
                    uploaded=form.cleaned_data["file"],
                    title=form.cleaned_data["title"],
                    uploaded_by=request.user,
                )
            except DomainError as exc:
                form.add_error("file", exc.detail)
            else:
                self.message_user(request, _("Allegato aggiunto."), messages.SUCCESS)
                return HttpResponseRedirect(change_url(application))
        return action_form_page(
            request,
            self,
            title=_("Aggiungi un allegato alla domanda %(protocol)s")
            % {"protocol": application.protocol_number},
            form=form,
            submit_label=_("Allega"),
            obj=application,
        )
