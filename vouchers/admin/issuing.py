"""Issuing a call's vouchers, and printing them for people without a smartphone.

A ranked call issues by its applications, through a run of the issuing task whose progress
has its own read-only list; a call without applications can still give one voucher to every
resident of its municipalities (the 2020 buoni spesa), a separate, clearly labelled button.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminSelectWidget

from core.admin.toolkit import (
    ConfirmForm,
    LedgerReadOnlyMixin,
    action_form_page,
    bound_if_confirmed,
    change_url,
    euro,
    status_badge,
)
from core.errors import DomainError
from core.money import ZERO
from vouchers.admin.phases import (
    InitiativeActionsBase,
    pdf_response,
)
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_initiatives,
    visible_vouchers,
)
from vouchers.models import (
    Application,
    Beneficiary,
    Initiative,
    IssuanceRun,
    Voucher,
)
from vouchers.printing import printable_vouchers, vouchers_pdf
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.issuing import issuance_run_start, voucher_issue_bulk

# One PDF of printable vouchers: four per A4 sheet, about 3 ms each.
MAX_PRINTED_VOUCHERS = 5000
RUN_STATUS_VARIANTS = {
    IssuanceRun.Status.QUEUED: "info",
    IssuanceRun.Status.RUNNING: "warning",
    IssuanceRun.Status.DONE: "success",
    IssuanceRun.Status.FAILED: "danger",
}


def run_progress(run: IssuanceRun) -> str:
    return render_to_string(
        "unfold/components/progress.html",
        {
            "value": run.percent,
            "title": run.get_status_display(),
            "description": f"{run.done}/{run.total} · {run.percent}%",
        },
    )


class IssueForm(forms.Form):
    medium = forms.ChoiceField(
        label=_("Supporto"),
        choices=Voucher.Medium.choices,
        initial=Voucher.Medium.DIGITAL,
        widget=UnfoldAdminSelectWidget,
        help_text=_("Stampato per chi non usa l'app: il QR è lo stesso."),
    )


class PrintVouchersForm(forms.Form):
    WITHOUT_APP, PRINTED, ALL = "without_app", "printed", "all"

    which = forms.ChoiceField(
        label=_("Quali buoni"),
        choices=[
            (WITHOUT_APP, _("Dei beneficiari che non usano l'app")),
            (PRINTED, _("Emessi su carta")),
            (ALL, _("Tutti i buoni attivi")),
        ],
        initial=WITHOUT_APP,
        widget=UnfoldAdminSelectWidget,
    )


def beneficiaries_without_voucher(*, initiative: Initiative):
    """Residents of the call's municipalities who hold none of its vouchers yet."""
    return (
        Beneficiary.objects.filter(municipality__in=initiative.municipalities.all())
        .exclude(vouchers__initiative=initiative)
        .select_related("municipality")
        .order_by("last_name", "first_name", "pk")
    )


class InitiativeIssuingMixin(InitiativeActionsBase):
    """Issue and print a call's vouchers; mixed into ``InitiativeAdmin``."""

    def has_issue_permission(self, request, obj=None):
        # Issuing to every resident, without applications: the platform's own operators.
        return request.user.has_perm("vouchers.add_voucher")

    def has_print_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_voucher")

    # Issuing a ranked call: a run of the issuing task, with its progress.

    def _funded_summary(self, initiative) -> list[tuple]:
        waiting = initiative.applications.filter(
            status=Application.Status.APPROVED, outcome=Application.Outcome.FUNDED
        ).aggregate(
            count=Count("pk"),
            total=Coalesce(
                Sum("amount"),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
        return [
            (_("Domande finanziate senza buoni"), waiting["count"]),
            (_("Importo da emettere"), euro(waiting["total"])),
            (_("Budget disponibile"), euro(initiative_budget_available(initiative=initiative))),
        ]

    def _start_run(self, request, initiative) -> IssuanceRun | None:
        try:
            run = issuance_run_start(initiative=initiative, started_by=request.user)
        except DomainError as exc:
            self.message_user(request, f"{initiative}: {exc.detail}", messages.ERROR)
            return None
        if run.status == IssuanceRun.Status.QUEUED and run.queued_at is None and run.error:
            self.message_user(request, f"{initiative}: {run.error}", messages.WARNING)
            return run
        self.message_user(
            request,
            _(
                "%(initiative)s: emissione avviata. L'avanzamento è nella pagina "
                "dell'emissione; si può ripetere senza dare due volte i buoni."
            )
            % {"initiative": initiative},
            messages.SUCCESS,
        )
        return run

    @action(description=_("Emetti i buoni (dalla graduatoria)"), permissions=["lifecycle"])
    def issue_run_initiatives(self, request, queryset):
        initiatives = self._selected(request, queryset)
        if initiatives is None:
            return None
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            for initiative in initiatives:
                self._start_run(request, initiative)
            return None
        return action_form_page(
            request,
            self,
            title=_("Emissione dei buoni"),
            description=_(
                "Ogni domanda finanziata in graduatoria riceve i suoi buoni, in un'operazione "
                "che procede a blocchi e si può ripetere senza doppioni."
            ),
            form=ConfirmForm(),
            table=self._initiatives_table(initiatives),
            submit_label=_("Emetti i buoni"),
            bulk_action="issue_run_initiatives",
            selected=[initiative.pk for initiative in initiatives],
        )

    @action(
        description=_("Emetti i buoni"),
        url_path="emetti-buoni",
        icon="qr_code_2",
        variant=ActionVariant.PRIMARY,
        permissions=["lifecycle"],
    )
    def issue_run_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        if bound_if_confirmed(ConfirmForm, request).is_valid():
            run = self._start_run(request, initiative)
            if run is not None and request.user.has_perm("vouchers.view_issuancerun"):
                return HttpResponseRedirect(change_url(run))
            return HttpResponseRedirect(change_url(initiative))
        title, description, submit = self._issue_wording(initiative)
        return action_form_page(
            request,
            self,
            title=title,
            description=description,
            form=ConfirmForm(),
            summary=self._funded_summary(initiative),
            submit_label=submit,
            obj=initiative,
        )

    @staticmethod
    def _issue_wording(initiative):
        """The issuing page's title, explanation and button, in the words of the call's kind."""
        if initiative.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER:
            return (
                _("Assegnazione dei contributi"),
                _(
                    "Ogni domanda finanziata in graduatoria riceve il suo contributo, che "
                    "l'agenzia paga con bonifico nella distinta dei pagamenti ai beneficiari. "
                    "L'operazione procede a blocchi e si può ripetere senza doppioni."
                ),
                _("Assegna i contributi"),
            )
        if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
            return (
                _("Conferma dei rimborsi ammessi"),
                _(
                    "Le domande finanziate in graduatoria possono chiedere il rimborso delle "
                    "spese fino al loro importo; il budget si spende man mano che le richieste "
                    "di rimborso sono approvate. Non si emettono buoni."
                ),
                _("Conferma"),
            )
        return (
            _("Emissione dei buoni"),
            _(
                "Ogni domanda finanziata in graduatoria riceve i suoi buoni (digitali, nell'app; "
                "chi non ha lo smartphone li riceve stampati con «Stampa buoni»). L'emissione "
                "procede a blocchi e si può ripetere senza doppioni."
            ),
            _("Emetti i buoni"),
        )

    # Issuing to every resident: calls without applications (a municipality's own list).

    ISSUE_HEADERS = [
        _("Bando"),
        _("Beneficiari senza buono"),
        _("Valore del buono"),
        _("Totale da emettere"),
        _("Budget disponibile"),
        _("Budget sufficiente"),
    ]
    RESIDENTS_DESCRIPTION = _(
        "Solo per i bandi senza domande: ogni residente dei comuni del bando che non ha "
        "ancora un buono ne riceve uno del valore indicato, pagato dal budget del bando."
    )

    def _issue_row(self, initiative) -> list:
        count = beneficiaries_without_voucher(initiative=initiative).count()
        available = initiative_budget_available(initiative=initiative)
        needed = initiative.face_value * count
        enough = (
            status_badge(_("sì"), "success")
            if needed <= available
            else status_badge(_("no"), "danger")
        )
        return [
            initiative.title,
            count,
            euro(initiative.face_value),
            euro(needed),
            euro(available),
            enough,
        ]

    def _issue_residents(self, request, initiative, medium) -> None:
        if initiative.applications.exists():
            self.message_user(
                request,
                _(
                    "%(initiative)s: il bando raccoglie domande, i buoni si emettono dalla "
                    "graduatoria («Emetti i buoni»)."
                )
                % {"initiative": initiative},
                messages.ERROR,
            )
            return
        try:
            vouchers = voucher_issue_bulk(
                initiative=initiative,
                beneficiaries=beneficiaries_without_voucher(initiative=initiative),
                medium=medium,
                issued_by=request.user,
            )
        except DomainError as exc:
            self.message_user(request, f"{initiative}: {exc.detail}", messages.ERROR)
            return
        if not vouchers:
            self.message_user(
                request,
                _("%(initiative)s: tutti i residenti hanno già il loro buono.")
                % {"initiative": initiative},
                messages.INFO,
            )
            return
        self.message_user(
            request,
            ngettext(
                "%(initiative)s: emesso %(count)d buono.",
                "%(initiative)s: emessi %(count)d buoni.",
                len(vouchers),
            )
            % {"initiative": initiative, "count": len(vouchers)},
            messages.SUCCESS,
        )

    @action(
        description=_("Emetti ai residenti che non hanno il buono (bandi senza domande)"),
        permissions=["issue"],
    )
    def issue_residents(self, request, queryset):
        initiatives = self._selected(request, queryset)
        if initiatives is None:
            return None
        form = bound_if_confirmed(IssueForm, request)
        if form.is_valid():
            for initiative in initiatives:
                self._issue_residents(request, initiative, form.cleaned_data["medium"])
            return None
        return action_form_page(
            request,
            self,
            title=_("Emissione ai residenti"),
            description=self.RESIDENTS_DESCRIPTION,
            form=form,
            table={
                "headers": self.ISSUE_HEADERS,
                "rows": [self._issue_row(initiative) for initiative in initiatives],
            },
            submit_label=_("Emetti i buoni"),
            bulk_action="issue_residents",
            selected=[initiative.pk for initiative in initiatives],
        )

    @action(
        description=_("Emetti ai residenti (bando senza domande)"),
        url_path="emetti-ai-residenti",
        icon="group_add",
        permissions=["issue"],
    )
    def issue_residents_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        form = bound_if_confirmed(IssueForm, request)
        if form.is_valid():
            self._issue_residents(request, initiative, form.cleaned_data["medium"])
            return HttpResponseRedirect(change_url(initiative))
        return action_form_page(
            request,
            self,
            title=_("Emissione ai residenti"),
            description=self.RESIDENTS_DESCRIPTION,
            form=form,
            summary=[
                (
                    _("Comuni"),
                    ", ".join(str(m) for m in initiative.municipalities.all()) or "—",
                ),
                *zip(self.ISSUE_HEADERS[1:], self._issue_row(initiative)[1:], strict=True),
            ],
            submit_label=_("Emetti i buoni"),
            obj=initiative,
        )

    # Outcome messages and letters.

    # Printed vouchers for people without a smartphone.

    @action(
        description=_("Stampa buoni"),
        url_path="stampa-buoni",
        icon="print",
        permissions=["print"],
    )
    def print_vouchers_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        active = visible_vouchers(request).filter(
            initiative=initiative, status=Voucher.Status.ACTIVE
        )
        choices = {
            PrintVouchersForm.WITHOUT_APP: active.filter(beneficiary__user__isnull=True),
            PrintVouchersForm.PRINTED: active.filter(medium=Voucher.Medium.PRINTED),
            PrintVouchersForm.ALL: active,
        }
        form = bound_if_confirmed(PrintVouchersForm, request)
        if form.is_valid():
            chosen = choices[form.cleaned_data["which"]]
            count = chosen.count()
            if not count:
                form.add_error(None, _("Nessun buono attivo da stampare con questa scelta."))
            elif count > MAX_PRINTED_VOUCHERS:
                form.add_error(
                    None,
                    _(
                        "Più di %(max)d buoni: stampali dalla lista dei buoni, filtrando per "
                        "comune o selezionandoli."
                    )
                    % {"max": MAX_PRINTED_VOUCHERS},
                )
            else:
                return pdf_response(
                    vouchers_pdf(printable_vouchers(chosen)), f"buoni-bando-{initiative.pk}.pdf"
                )
        return action_form_page(
            request,
            self,
            title=_("Stampa dei buoni"),
            description=_(
                "Un foglio A4 per intestatario con il QR e il codice di ogni buono, da "
                "consegnare a chi non usa lo smartphone. Il codice stampato vale come il buono."
            ),
            form=form,
            summary=[
                (label, choices[key].count())
                for key, label in PrintVouchersForm.base_fields["which"].choices
            ],
            submit_label=_("Scarica il PDF"),
            obj=initiative,
        )

    @display(description=_("emissione dei buoni"))
    def issuance_detail(self, obj):
        if obj.pk is None:
            return "—"
        run = obj.issuance_runs.order_by("-created_at", "-pk").first()
        if run is None:
            return _("Nessuna emissione avviata.")
        return format_html(
            '{}<a href="{}" class="text-link">{}</a>',
            run_progress(run),
            change_url(run),
            _("Ultima emissione: %(status)s, %(issued)d buoni")
            % {"status": run.get_status_display(), "issued": run.vouchers_issued},
        )


# --- issuing runs ------------------------------------------------------------------------


@admin.register(IssuanceRun)
class IssuanceRunAdmin(ScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "initiative",
        "status_display",
        "progress_display",
        "vouchers_issued",
        "started_by",
        "created_at",
        "finished_at",
    ]
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("initiative", ScopedRelatedDropdownFilter),
    ]
    list_select_related = ["initiative", "started_by"]
    search_fields = ["initiative__title"]
    fields = [
        "initiative",
        "status",
        "progress_display",
        "total",
        "done",
        "vouchers_issued",
        "error",
        "started_by",
        "created_at",
        "queued_at",
        "finished_at",
    ]
    readonly_fields = fields

    def scoped_queryset(self, request):
        return IssuanceRun.objects.filter(initiative__in=visible_initiatives(request))

    @display(description=_("stato"), label=RUN_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("avanzamento"))
    def progress_display(self, obj):
        return run_progress(obj)
