"""Outcome messages of a call: sending them, printing the letters, the list of what went out."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.widgets import UnfoldBooleanWidget

from core.admin.toolkit import (
    ConfirmForm,
    LedgerReadOnlyMixin,
    action_form_page,
    bound_if_confirmed,
    change_url,
)
from core.errors import DomainError
from core.paginator import CappedCountPaginator
from vouchers.admin.phases import (
    MAX_BULK_SELECTION,
    InitiativeActionsBase,
    pdf_response,
)
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_applications,
)
from vouchers.models import (
    Application,
    Notification,
)
from vouchers.services.notifications import (
    UNDELIVERED_SMS_LETTERS,
    OutcomesTold,
    initiative_outcomes_tell,
)
from vouchers.services.outcome_letters import outcome_letters_print

NOTIFICATION_STATUS_VARIANTS = {
    Notification.Status.PENDING: "info",
    Notification.Status.SENT: "success",
    Notification.Status.LOGGED: "warning",
    Notification.Status.DELIVERED: "success",
    Notification.Status.TO_PRINT: "warning",
    Notification.Status.PRINTED: "success",
    Notification.Status.FAILED: "danger",
}


# How many letters from undelivered SMS the «Stampa lettere» page lists one by one.
LETTERS_TABLE_ROWS = 50


def waiting_outcome(told: OutcomesTold) -> str:
    """What happened to the messages an earlier click left «Da inviare»."""
    parts = []
    if told.waiting_sent:
        parts.append(
            ngettext(
                "inviata %(count)d comunicazione in attesa",
                "inviate %(count)d comunicazioni in attesa",
                told.waiting_sent,
            )
            % {"count": told.waiting_sent}
        )
    if told.waiting_unsent:
        parts.append(
            ngettext(
                "%(count)d comunicazione in attesa non inviata (vedi l'elenco delle comunicazioni)",
                "%(count)d comunicazioni in attesa non inviate (vedi l'elenco delle comunicazioni)",
                told.waiting_unsent,
            )
            % {"count": told.waiting_unsent}
        )
    if told.waiting_logged:
        parts.append(
            ngettext(
                "%(count)d SMS in attesa scritto solo nel registro (ambiente di prova)",
                "%(count)d SMS in attesa scritti solo nel registro (ambiente di prova)",
                told.waiting_logged,
            )
            % {"count": told.waiting_logged}
        )
    queued = told.waiting - told.waiting_sent - told.waiting_unsent - told.waiting_logged
    if queued and told.queued is not False:
        parts.append(
            ngettext(
                "%(count)d comunicazione in attesa affidata alla coda di invio",
                "%(count)d comunicazioni in attesa affidate alla coda di invio",
                queued,
            )
            % {"count": queued}
        )
    elif queued:
        parts.append(
            ngettext(
                "%(count)d comunicazione in attesa non ancora inviata",
                "%(count)d comunicazioni in attesa non ancora inviate",
                queued,
            )
            % {"count": queued}
        )
    return "; ".join(parts)


class LettersForm(forms.Form):
    reprint = forms.BooleanField(
        label=_("Ristampa anche le lettere già stampate"),
        required=False,
        widget=UnfoldBooleanWidget,
    )


class InitiativeOutcomesMixin(InitiativeActionsBase):
    """Send the outcomes of a call and print its letters; mixed into ``InitiativeAdmin``."""

    def has_letters_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_notification")

    # Outcome messages and letters.

    def _notify(self, request, initiative) -> None:
        try:
            told = initiative_outcomes_tell(initiative=initiative)
        except DomainError as exc:
            self.message_user(request, f"{initiative}: {exc.detail}", messages.ERROR)
            return
        total = sum(told.prepared.values())
        if total:
            text = _(
                "%(initiative)s: %(total)d comunicazioni preparate: %(email)d e-mail, %(sms)d "
                "SMS, %(letter)d lettere da stampare."
            ) % {"initiative": initiative, "total": total, **told.prepared}
            if told.waiting:
                text += " " + _("Inoltre: %(waiting)s.") % {"waiting": waiting_outcome(told)}
        elif told.waiting:
            text = _("%(initiative)s: nessun nuovo esito; %(waiting)s.") % {
                "initiative": initiative,
                "waiting": waiting_outcome(told),
            }
        else:
            text = _("%(initiative)s: nessun nuovo esito da comunicare.") % {
                "initiative": initiative
            }
        if told.queued is False and told.still_pending:
            text += " " + ngettext(
                "La coda dei compiti non risponde: %(count)d comunicazione resta «Da inviare»; "
                "parte premendo di nuovo «Comunica gli esiti» quando la coda torna disponibile.",
                "La coda dei compiti non risponde: %(count)d comunicazioni restano «Da "
                "inviare»; partono premendo di nuovo «Comunica gli esiti» quando la coda torna "
                "disponibile.",
                told.still_pending,
            ) % {"count": told.still_pending}
        level = messages.SUCCESS if total or told.waiting_sent else messages.INFO
        if told.queued is False and told.still_pending:
            level = messages.WARNING
        self.message_user(request, text, level)

    def _notify_summary(self, initiative) -> list[tuple]:
        sent = dict(
            Notification.objects.filter(application__initiative=initiative)
            .order_by()
            .values_list("channel")
            .annotate(count=Count("pk"))
            .values_list("channel", "count")
        )
        decided = initiative.applications.exclude(
            status__in=[Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED]
        ).count()
        return [
            (_("Domande decise"), decided),
            *(
                (_("Già inviate: %(channel)s") % {"channel": label}, sent.get(channel, 0))
                for channel, label in Notification.Channel.choices
            ),
        ]

    @action(description=_("Comunica gli esiti"), permissions=["lifecycle"])
    def notify_initiatives(self, request, queryset):
        initiatives = self._selected(request, queryset)
        if initiatives is None:
            return None
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            for initiative in initiatives:
                self._notify(request, initiative)
            return None
        return action_form_page(
            request,
            self,
            title=_("Comunica gli esiti"),
            description=self.NOTIFY_DESCRIPTION,
            form=ConfirmForm(),
            table=self._initiatives_table(initiatives),
            submit_label=_("Comunica gli esiti"),
            bulk_action="notify_initiatives",
            selected=[initiative.pk for initiative in initiatives],
        )

    NOTIFY_DESCRIPTION = _(
        "Ogni richiedente con una domanda decisa riceve l'esito una volta sola: per e-mail se "
        "l'ha indicata, altrimenti per SMS, altrimenti con una lettera da stampare. Se i buoni "
        "non sono ancora emessi, l'esito lo dice; quando lo sono, chi ha già ricevuto l'esito "
        "riceve l'avviso che i buoni sono disponibili. Chi è finanziato dalla lista d'attesa "
        "riceve il nuovo esito."
    )

    @action(
        description=_("Comunica gli esiti"),
        url_path="comunica-esiti",
        icon="forward_to_inbox",
        permissions=["lifecycle"],
    )
    def notify_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            self._notify(request, initiative)
            return HttpResponseRedirect(change_url(initiative))
        return action_form_page(
            request,
            self,
            title=_("Comunica gli esiti"),
            description=self.NOTIFY_DESCRIPTION,
            form=ConfirmForm(),
            summary=self._notify_summary(initiative),
            submit_label=_("Comunica gli esiti"),
            obj=initiative,
        )

    @action(
        description=_("Stampa lettere"),
        url_path="stampa-lettere",
        icon="mail",
        permissions=["letters"],
    )
    def letters_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        letters = Notification.objects.filter(
            application__initiative=initiative,
            application__in=visible_applications(request),
            channel=Notification.Channel.LETTER,
        )
        form = bound_if_confirmed(LettersForm, request)
        if form.is_valid():
            statuses = [Notification.Status.TO_PRINT]
            if form.cleaned_data["reprint"]:
                statuses.append(Notification.Status.PRINTED)
            chosen = list(
                letters.filter(status__in=statuses)
                .select_related(
                    "application__applicant", "application__municipality", "application__initiative"
                )
                .order_by("application__municipality__name", "application__protocol_sequence")
            )
            if not chosen:
                self.message_user(request, _("Nessuna lettera da stampare."), messages.INFO)
                return HttpResponseRedirect(change_url(initiative))
            content = outcome_letters_print(notifications=chosen)
            return pdf_response(content, f"lettere-esiti-bando-{initiative.pk}.pdf")
        counts = dict(
            letters.order_by()
            .values_list("status")
            .annotate(count=Count("pk"))
            .values_list("status", "count")
        )
        from_sms = list(
            letters.filter(UNDELIVERED_SMS_LETTERS, status=Notification.Status.TO_PRINT)
            .select_related("application__applicant")
            .order_by("application__protocol_sequence")[: LETTERS_TABLE_ROWS + 1]
        )
        return action_form_page(
            request,
            self,
            title=_("Stampa delle lettere di esito"),
            description=_(
                "Un PDF con una lettera per pagina, per chi riceve l'esito per posta: chi non "
                "ha indicato né e-mail né un telefono a cui mandare SMS, e chi aveva solo il "
                "telefono ma il cui SMS non è stato consegnato (il gestore lo ha rifiutato, ne "
                "ha segnalato la mancata consegna o non l'ha confermata in tempo). Le lettere "
                "scaricate risultano stampate."
            ),
            form=form,
            summary=[
                (_("Da stampare"), counts.get(Notification.Status.TO_PRINT, 0)),
                (
                    _("Da stampare perché l'SMS non è stato consegnato"),
                    letters.filter(
                        UNDELIVERED_SMS_LETTERS, status=Notification.Status.TO_PRINT
                    ).count(),
                ),
                (_("Già stampate"), counts.get(Notification.Status.PRINTED, 0)),
            ],
            table=self._undelivered_sms_table(from_sms[:LETTERS_TABLE_ROWS]) if from_sms else None,
            table_note=(
                _("Sono mostrate le prime %(count)d: le altre nell'elenco delle comunicazioni.")
                % {"count": LETTERS_TABLE_ROWS}
                if len(from_sms) > LETTERS_TABLE_ROWS
                else ""
            ),
            submit_label=_("Scarica il PDF"),
            obj=initiative,
        )

    def _undelivered_sms_table(self, letters: list[Notification]) -> dict:
        return {
            "headers": [_("Protocollo"), _("Richiedente"), _("Lettera al posto dell'SMS")],
            "rows": [
                [
                    letter.application.protocol_number,
                    letter.application.applicant.full_name,
                    letter.error
                    or _("SMS a %(number)s non consegnato.") % {"number": letter.recipient},
                ]
                for letter in letters
            ],
        }


# --- outcome messages --------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(ScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "protocol_display",
        "applicant_display",
        "initiative_display",
        "outcome",
        "channel",
        "status_display",
        "recipient",
        "created_at",
        "sent_at",
    ]
    list_filter = [
        ("channel", ChoicesDropdownFilter),
        ("status", ChoicesDropdownFilter),
        ("outcome", ChoicesDropdownFilter),
        ("application__initiative", ScopedRelatedDropdownFilter),
    ]
    search_fields = ["application__applicant__last_name", "=application__applicant__fiscal_code"]
    list_select_related = [
        "application__applicant",
        "application__initiative",
        "application__municipality",
    ]
    fields = [
        "application_link",
        "outcome",
        "channel",
        "recipient",
        "status_display",
        "error",
        "subject",
        "body",
        "created_at",
        "sent_at",
        "provider_id",
        "delivered_at",
    ]
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = ["print_letters"]

    def scoped_queryset(self, request):
        return Notification.objects.filter(application__in=visible_applications(request))

    def has_letters_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_notification")

    @display(description=_("protocollo"), ordering="application__protocol_sequence")
    def protocol_display(self, obj):
        return obj.application.protocol_number

    @display(description=_("richiedente"))
    def applicant_display(self, obj):
        return obj.application.applicant.full_name

    @display(description=_("bando"))
    def initiative_display(self, obj):
        return obj.application.initiative

    @display(description=_("stato"), label=NOTIFICATION_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("domanda"))
    def application_link(self, obj):
        return format_html(
            '<a href="{}" class="text-link">{}</a>',
            change_url(obj.application),
            obj.application.protocol_number,
        )

    @action(description=_("Stampa le lettere selezionate"), permissions=["letters"])
    def print_letters(self, request, queryset):
        letters = list(
            queryset.filter(channel=Notification.Channel.LETTER)
            .select_related(
                "application__applicant", "application__municipality", "application__initiative"
            )
            .order_by("application__municipality__name", "application__protocol_sequence")[
                : MAX_BULK_SELECTION + 1
            ]
        )
        if not letters:
            self.message_user(
                request, _("Tra le comunicazioni scelte non ci sono lettere."), messages.INFO
            )
            return None
        if len(letters) > MAX_BULK_SELECTION:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d lettere alla volta.") % {"max": MAX_BULK_SELECTION},
                messages.ERROR,
            )
            return None
        content = outcome_letters_print(notifications=letters)
        return pdf_response(content, "lettere-esiti.pdf")
