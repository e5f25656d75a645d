"""Applications in the admin: the validators' queue, the applicant's file.

Nothing here edits an application by hand. Its "add" page is the desk's form
(``vouchers.admin.intake``), which calls ``application_submit``; every decision is a button
or a bulk action that asks for the reason and calls one service per application. What the
services own (status, outcome, rank, amount, protocol) is only ever shown.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminTextareaWidget,
)

from core.admin import (
    action_form_page,
    bound_if_confirmed,
    change_url,
    euro,
    status_badge,
)
from core.errors import DomainError
from core.paginator import CappedCountPaginator
from core.uploads import stored_file_response
from vouchers.admin.exports import ApplicationResource, ExportAdminMixin
from vouchers.admin.intake import ApplicationIntakeMixin, text_field
from vouchers.admin.phases import APPLICATION_STATUS_VARIANTS, MAX_BULK_SELECTION
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_applications,
)
from vouchers.models import Application
from vouchers.services.applications import (
    application_answer,
    application_approve,
    application_document_add,
    application_reject,
    application_request_info,
    application_withdraw,
)

# Keyed by ``Application.outcome_key``: the ranking's outcomes, then the decisions that keep
# an application out of it.
OUTCOME_VARIANTS = {
    Application.Outcome.PENDING: "info",
    Application.Outcome.FUNDED: "success",
    Application.Outcome.WAITING: "warning",
    Application.Outcome.ISSUED: "primary",
    "in_review": "info",
    Application.Status.REJECTED: "danger",
    Application.Status.WITHDRAWN: "info",
}
PROTOCOL = re.compile(r"^(\d{4})/(\d{1,6})$")


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
        lambda application, reason, by: application_answer(
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


class QueueFilter(DropdownFilter):
    title = _("coda di lavoro")
    parameter_name = "coda"

    def lookups(self, request, model_admin):
        return [
            ("da-istruire", _("Da istruire")),
            ("nucleo", _("Da istruire, nucleo già presente")),
            ("integrazione", _("In attesa di integrazione")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "da-istruire":
            return queryset.filter(status=Application.Status.SUBMITTED)
        if self.value() == "nucleo":
            return queryset.filter(status=Application.Status.SUBMITTED, household_flag=True)
        if self.value() == "integrazione":
            return queryset.filter(status=Application.Status.INFO_REQUESTED)
        return queryset


class OutcomeFilter(DropdownFilter):
    """The outcomes the list's column shows (``Application.outcome_for``), not the raw field:
    a rejected application, whose ranking outcome never moved, is not «pending»."""

    title = _("esito")
    parameter_name = "esito"

    def lookups(self, request, model_admin):
        return [
            *Application.Outcome.choices,
            ("in_review", _("In istruttoria")),
            (Application.Status.REJECTED, Application.Status.REJECTED.label),
            (Application.Status.WITHDRAWN, Application.Status.WITHDRAWN.label),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in Application.Outcome.values:
            return queryset.filter(status=Application.Status.APPROVED, outcome=value)
        if value == "in_review":
            return queryset.filter(
                status__in=[Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED]
            )
        if value in (Application.Status.REJECTED, Application.Status.WITHDRAWN):
            return queryset.filter(status=value)
        return queryset


@admin.register(Application)
class ApplicationAdmin(
    ApplicationIntakeMixin, ScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin, ExportAdminMixin
):
    list_display = [
        "protocol_display",
        "applicant_display",
        "initiative",
        "municipality",
        "channel",
        "status_display",
        "outcome_display",
        "rank",
        "amount_display",
        "household_display",
        "submitted_at",
    ]
    list_fullwidth = True
    list_filter = [
        QueueFilter,
        ("initiative", ScopedRelatedDropdownFilter),
        ("municipality", ScopedRelatedDropdownFilter),
        ("status", ChoicesDropdownFilter),
        OutcomeFilter,
        ("channel", ChoicesDropdownFilter),
        "household_flag",
    ]
    list_filter_submit = True
    search_fields = ["applicant__last_name", "=applicant__fiscal_code"]
    search_help_text = _("Protocollo (2026/000123), codice fiscale o cognome del richiedente.")
    list_select_related = ["applicant", "initiative", "municipality"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    resource_classes = [ApplicationResource]
    fieldsets = [
        (
            _("Domanda"),
            {
                "classes": ["tab"],
                "fields": [
                    "protocol_display",
                    "initiative",
                    "municipality",
                    "channel",
                    "entered_by",
                    "tutor",
                    "submitted_at",
                    "status_detail",
                    "outcome_detail",
                    "rank",
                    "amount_display",
                    "household_detail",
                ],
            },
        ),
        (
            _("Richiedente"),
            {
                "classes": ["tab"],
                "fields": [
                    "applicant_link",
                    "contacts_detail",
                    "street",
                    "postal_code",
                    "isee",
                    "dsu_protocol",
                    "iban",
                    "declarations_detail",
                ],
            },
        ),
        (_("Nucleo familiare"), {"classes": ["tab"], "fields": ["members_detail"]}),
        (_("Allegati"), {"classes": ["tab"], "fields": ["documents_detail"]}),
        (_("Decisioni"), {"classes": ["tab"], "fields": ["decisions_detail"]}),
        (_("Comunicazioni"), {"classes": ["tab"], "fields": ["notifications_detail"]}),
    ]
    readonly_fields = [
        "protocol_display",
        "initiative",
        "municipality",
        "channel",
        "entered_by",
        "tutor",
        "submitted_at",
        "status_detail",
        "outcome_detail",
        "rank",
        "amount_display",
        "household_detail",
        "applicant_link",
        "contacts_detail",
        "street",
        "postal_code",
        "isee",
        "dsu_protocol",
        "iban",
        "declarations_detail",
        "members_detail",
        "documents_detail",
        "decisions_detail",
        "notifications_detail",
    ]
    actions = [
        "approve_applications",
        "request_info_applications",
        "reject_applications",
        "answer_applications",
        "withdraw_applications",
    ]
    actions_detail = [
        "approve_detail",
        "request_info_detail",
        "reject_detail",
        {
            "title": _("Sportello"),
            "icon": "support_agent",
            "items": [
                "answer_detail",
                "add_document_detail",
                "withdraw_detail",
                "receipt_detail",
            ],
        },
    ]

    def scoped_queryset(self, request):
        return visible_applications(request)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("applicant", "initiative", "municipality", "entered_by", "tutor")
        )

    # An application changes only through its services: the form is never saved.

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.add_decision")

    def has_desk_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_application")

    def has_document_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_application") or request.user.has_perm(
            "vouchers.add_application"
        )

    def get_search_results(self, request, queryset, search_term):
        """Also find an application by its protocol number (``2026/000123`` or ``123``)."""
        filtered = queryset  # the list's filters are already applied
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        match = PROTOCOL.match(term)
        if match:
            queryset |= filtered.filter(
                protocol_year=int(match.group(1)), protocol_sequence=int(match.group(2))
            )
        elif term.isdigit() and len(term) <= 6:
            queryset |= filtered.filter(protocol_sequence=int(term))
        return queryset, may_have_duplicates

    # Lists.

    @display(description=_("protocollo"), ordering="protocol_sequence")
    def protocol_display(self, obj):
        return obj.protocol_number

    @display(description=_("richiedente"), ordering="applicant__last_name")
    def applicant_display(self, obj):
        return format_html(
            '{}<br><span class="text-subtle text-xs">{}</span>',
            obj.applicant.full_name,
            obj.applicant.fiscal_code,
        )

    @display(description=_("stato"), label=APPLICATION_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("esito"), label=OUTCOME_VARIANTS, ordering="outcome")
    def outcome_display(self, obj):
        return obj.outcome_key, obj.outcome_label

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("nucleo"), ordering="household_flag")
    def household_display(self, obj):
        if obj.household_flag:
            return status_badge(_("Già presente"), "danger")
        return ""

    # The applicant's file.

    @display(description=_("stato"))
    def status_detail(self, obj):
        return status_badge(obj.get_status_display(), APPLICATION_STATUS_VARIANTS[obj.status])

    @display(description=_("esito"))
    def outcome_detail(self, obj):
        return status_badge(obj.outcome_label, OUTCOME_VARIANTS.get(obj.outcome_key, "info"))

    @display(description=_("nucleo familiare"))
    def household_detail(self, obj):
        size = 1 + obj.members.count()
        text = ngettext("%(size)d persona", "%(size)d persone", size) % {"size": size}
        if not obj.household_flag:
            return text
        return format_html(
            "{} {}",
            text,
            status_badge(
                _("Un componente compare in un'altra domanda di questo bando: da verificare."),
                "danger",
            ),
        )

    @display(description=_("richiedente"))
    def applicant_link(self, obj):
        return format_html(
            '<a href="{}" class="text-link">{}</a> · {}',
            change_url(obj.applicant),
            obj.applicant.full_name,
            obj.applicant.fiscal_code,
        )

    @display(description=_("contatti"))
    def contacts_detail(self, obj):
        parts = [obj.applicant.email, obj.applicant.phone]
        return " · ".join(part for part in parts if part) or _("nessuno: esito per lettera")

    @display(description=_("dichiarazioni"))
    def declarations_detail(self, obj):
        if not obj.declarations_accepted:
            return "—"
        return format_html(
            '<ul class="flex flex-col gap-1">{}</ul>',
            format_html_join("", "<li>✓ {}</li>", ((text,) for text in obj.declarations_accepted)),
        )

    def _table(self, headers, rows) -> str:
        return render_to_string(
            "unfold/components/table.html", {"table": {"headers": headers, "rows": rows}}
        )

    @display(description=_("componenti"))
    def members_detail(self, obj):
        rows = [
            [
                member.fiscal_code,
                f"{member.first_name} {member.last_name}",
                member.birth_date.strftime("%d/%m/%Y"),
                _("sì") if member.is_child else _("no"),
            ]
            for member in obj.members.order_by("birth_date", "pk")
        ]
        if not rows:
            return _("Solo il richiedente.")
        return self._table(
            [_("Codice fiscale"), _("Nome"), _("Data di nascita"), _("Figlio")], rows
        )

    @display(description=_("allegati"))
    def documents_detail(self, obj):
        rows = [
            [
                format_html(
                    '<a href="{}" class="text-link">{}</a>',
                    reverse("admin:vouchers_application_document", args=[obj.pk, document.pk]),
                    document.title,
                ),
                document.content_type,
                document.uploaded_by or "—",
                timezone.localtime(document.uploaded_at).strftime("%d/%m/%Y %H:%M"),
            ]
            for document in obj.documents.select_related("uploaded_by")
        ]
        if not rows:
            return _("Nessun allegato.")
        return self._table([_("Descrizione"), _("Tipo"), _("Caricato da"), _("Il")], rows)

    @display(description=_("decisioni"))
    def decisions_detail(self, obj):
        rows = [
            [
                timezone.localtime(decision.decided_at).strftime("%d/%m/%Y %H:%M"),
                decision.get_action_display(),
                decision.decided_by or _("il richiedente"),
                decision.reason,
                f"{Application.Status(decision.from_status).label} → {Application.Status(decision.to_status).label}",
            ]
            for decision in obj.decisions.select_related("decided_by")
        ]
        if not rows:
            return _("Nessuna decisione: la domanda è da istruire.")
        return self._table([_("Il"), _("Azione"), _("Da"), _("Motivazione"), _("Stato")], rows)

    @display(description=_("comunicazioni"))
    def notifications_detail(self, obj):
        rows = [
            [
                timezone.localtime(notification.created_at).strftime("%d/%m/%Y %H:%M"),
                notification.get_outcome_display(),
                notification.get_channel_display(),
                notification.recipient or "—",
                notification.get_status_display(),
            ]
            for notification in obj.notifications.order_by("created_at", "pk")
        ]
        if not rows:
            return _("Nessuna comunicazione inviata.")
        return self._table([_("Il"), _("Esito"), _("Canale"), _("Destinatario"), _("Stato")], rows)

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

    # Attachments are personal documents: served only to those who see the application.

    def get_urls(self):
        return [
            path(
                "<path:object_id>/allegati/<int:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="vouchers_application_document",
            ),
            *super().get_urls(),
        ]

    def document_view(self, request, object_id, document_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        application = self._application(request, object_id)
        document = application.documents.filter(pk=document_id).first()
        if document is None:
            raise Http404
        return stored_file_response(
            document.file, content_type=document.content_type, attachment=True
        )
