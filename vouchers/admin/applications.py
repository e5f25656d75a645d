"""Applications in the admin: the validators' queue, the applicant's file.

Nothing here edits an application by hand. Its "add" page is the desk's form
(``vouchers.admin.intake``), which calls ``application_submit_with_documents``; every decision
(``vouchers.admin.application_decisions``) is a button or a bulk action that asks for the
reason and calls one service per application. What the services own (status, outcome, rank,
amount, protocol) is only ever shown.
"""

import re

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter
from unfold.decorators import display

from core.admin.toolkit import change_url, euro, status_badge
from core.paginator import CappedCountPaginator
from core.uploads import stored_file_response
from vouchers.admin.application_decisions import ApplicationDecisionsMixin
from vouchers.admin.exports import ApplicationResource, ExportAdminMixin
from vouchers.admin.intake import ApplicationIntakeMixin
from vouchers.admin.phases import APPLICATION_STATUS_VARIANTS
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_applications,
)
from vouchers.models import Application

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
    ApplicationDecisionsMixin,
    ApplicationIntakeMixin,
    ScopedAdminMixin,
    SimpleHistoryAdmin,
    ModelAdmin,
    ExportAdminMixin,
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
