"""Reimbursement claims in the admin: review line by line, payment batches, the town's transfer.

Nothing here edits a claim or an expense by hand: every button opens a page that calls one
service of ``vouchers.services.reimbursements`` and turns a refusal into a message. Staff of a
municipality see the claims of their municipality's applications only; payment batches and
the municipalities' transfers are the agency's matters.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from core.admin import (
    ConfirmForm,
    LabelledTabularInline,
    action_form_page,
    bound_if_confirmed,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
    status_badge,
)
from core.errors import DomainError
from core.forms import EuroField
from core.models import Organization
from core.money import CENT, ZERO
from core.roles import sees_everything
from core.uploads import stored_file_response
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_applications,
    visible_initiatives,
    visible_municipalities,
)
from vouchers.models import (
    Application,
    Expense,
    IncomingTransfer,
    Initiative,
    ReimbursementClaim,
    SpendingCategory,
)
from vouchers.selectors import (
    approved_total,
    initiative_budget_available,
    payable_cash_grants,
    payable_claims,
)
from vouchers.services.beneficiary_payments import (
    beneficiary_payment_batch_prepare,
    incoming_transfer_record,
    initiative_transfer_matching,
)
from vouchers.services.reimbursements import (
    ExpenseData,
    claim_cap_remaining,
    claim_decide,
    expense_review,
    reimbursement_claim_submit,
)

CLAIM_STATUS_VARIANTS = {
    ReimbursementClaim.Status.SUBMITTED: "warning",
    ReimbursementClaim.Status.APPROVED: "success",
    ReimbursementClaim.Status.PARTLY_APPROVED: "primary",
    ReimbursementClaim.Status.REJECTED: "danger",
    ReimbursementClaim.Status.PAID: "info",
}
EXPENSE_STATUS_VARIANTS = {
    Expense.Status.PENDING: "warning",
    Expense.Status.APPROVED: "success",
    Expense.Status.REDUCED: "primary",
    Expense.Status.REFUSED: "danger",
}
DESK_EXPENSE_ROWS = 3


def receipt_link(expense: Expense) -> str:
    url = reverse("admin:vouchers_reimbursementclaim_receipt", args=[expense.claim_id, expense.pk])
    return format_html('<a href="{}" class="text-link">{}</a>', url, _("Scontrino"))


class ExpenseInline(LabelledTabularInline):
    model = Expense
    extra = 0
    can_delete = False
    fields = [
        "spent_on",
        "category",
        "description",
        "amount_display",
        "receipt_display",
        "status_display",
        "approved_display",
        "refusal_reason",
    ]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # The lines are part of the claim: who may see the claim sees its lines.
        return request.user.has_perm("vouchers.view_reimbursementclaim")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category").order_by("spent_on", "pk")

    @display(description=_("importo"))
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("scontrino o fattura"))
    def receipt_display(self, obj):
        return receipt_link(obj)

    @display(description=_("esito"))
    def status_display(self, obj):
        return status_badge(obj.get_status_display(), EXPENSE_STATUS_VARIANTS[obj.status])

    @display(description=_("importo ammesso"))
    def approved_display(self, obj):
        return euro(obj.approved_amount)


class ReviewForm(forms.Form):
    """One decision, amount and reason per expense line; empty decisions are left as they are."""

    DECISIONS = [
        ("", _("— lascia com'è —")),
        (Expense.Status.APPROVED, _("Ammessa per intero")),
        (Expense.Status.REDUCED, _("Ridotta")),
        (Expense.Status.REFUSED, _("Non ammessa")),
    ]

    def __init__(self, *args, expenses, **kwargs):
        super().__init__(*args, **kwargs)
        self.expenses = expenses
        for number, expense in enumerate(expenses, start=1):
            label = _("Spesa %(number)s: %(date)s, %(category)s, %(amount)s") % {
                "number": number,
                "date": expense.spent_on.strftime("%d/%m/%Y"),
                "category": expense.category.name,
                "amount": euro(expense.amount),
            }
            self.fields[f"decision_{expense.pk}"] = forms.ChoiceField(
                label=label,
                choices=self.DECISIONS,
                required=False,
                widget=UnfoldAdminSelectWidget,
            )
            self.fields[f"amount_{expense.pk}"] = EuroField(
                label=_("Importo ammesso (€), se ridotta"),
                required=False,
                min_value=CENT,
                widget=UnfoldAdminTextInputWidget,
            )
            self.fields[f"reason_{expense.pk}"] = forms.CharField(
                label=_("Motivo, se ridotta o non ammessa"),
                required=False,
                max_length=255,
                widget=UnfoldAdminTextInputWidget,
            )

    def decisions(self):
        for expense in self.expenses:
            decision = self.cleaned_data.get(f"decision_{expense.pk}")
            if decision:
                yield (
                    expense,
                    decision,
                    self.cleaned_data.get(f"amount_{expense.pk}") or None,
                    self.cleaned_data.get(f"reason_{expense.pk}") or "",
                )


class DeskClaimForm(forms.Form):
    """A claim brought to the desk: the application and up to three receipts."""

    application = forms.ModelChoiceField(
        label=_("Domanda"),
        queryset=Application.objects.none(),
        widget=UnfoldAdminSelectWidget,
        error_messages={"required": _("Scegli la domanda finanziata del richiedente.")},
    )

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications
        for index in range(DESK_EXPENSE_ROWS):
            number = index + 1
            self.fields[f"expense_{index}_amount"] = EuroField(
                label=_("Spesa %(number)s: importo (€)") % {"number": number},
                required=False,
                min_value=CENT,
                widget=UnfoldAdminTextInputWidget,
            )
            self.fields[f"expense_{index}_spent_on"] = forms.DateField(
                label=_("Spesa %(number)s: data") % {"number": number},
                required=False,
                widget=UnfoldAdminDateWidget,
            )
            self.fields[f"expense_{index}_category"] = forms.ModelChoiceField(
                label=_("Spesa %(number)s: categoria") % {"number": number},
                queryset=SpendingCategory.objects.all(),
                required=False,
                widget=UnfoldAdminSelectWidget,
            )
            self.fields[f"expense_{index}_receipt"] = forms.FileField(
                label=_("Spesa %(number)s: scontrino o fattura (PDF, JPEG, PNG)")
                % {"number": number},
                required=False,
                widget=UnfoldAdminFileFieldWidget,
            )
            self.fields[f"expense_{index}_description"] = forms.CharField(
                label=_("Spesa %(number)s: descrizione") % {"number": number},
                required=False,
                max_length=200,
                widget=UnfoldAdminTextInputWidget,
            )

    def clean(self):
        cleaned = super().clean()
        rows = []
        for index in range(DESK_EXPENSE_ROWS):
            values = {
                name: cleaned.get(f"expense_{index}_{name}")
                for name in ("amount", "spent_on", "category", "receipt", "description")
            }
            required = [values[name] for name in ("amount", "spent_on", "category", "receipt")]
            if not any(required):
                continue
            if not all(required):
                raise forms.ValidationError(
                    _("Spesa %(number)s: servono importo, data, categoria e scontrino.")
                    % {"number": index + 1}
                )
            rows.append(values)
        cleaned["rows"] = rows
        return cleaned


class BatchForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=_("Bando"),
        queryset=Initiative.objects.none(),
        required=False,
        empty_label=_("Tutti i bandi"),
        widget=UnfoldAdminSelectWidget,
    )
    execution_date = forms.DateField(
        label=_("Data di esecuzione richiesta"),
        required=False,
        widget=UnfoldAdminDateWidget,
        help_text=_("Vuota: il primo giorno lavorativo dopo oggi."),
    )

    def __init__(self, *args, initiatives, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["initiative"].queryset = initiatives


@admin.register(ReimbursementClaim)
class ReimbursementClaimAdmin(ScopedAdminMixin, ModelAdmin):
    list_display = [
        "id",
        "beneficiary",
        "initiative",
        "protocol",
        "status_display",
        "claimed_display",
        "submitted_at",
    ]
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("initiative", ScopedRelatedDropdownFilter),
    ]
    search_fields = ["beneficiary__last_name", "=beneficiary__fiscal_code"]
    list_select_related = ["beneficiary", "initiative", "application"]
    show_full_result_count = False
    fields = [
        "initiative",
        "beneficiary",
        "protocol",
        "status_detail",
        "submitted_at",
        "submitted_by",
        "claimed_display",
        "approved_display",
        "cap_display",
    ]
    readonly_fields = fields
    inlines = [ExpenseInline]
    actions_list = ["desk_claim", "prepare_batch"]
    actions_detail = ["review_detail", "decide_detail"]

    def scoped_queryset(self, request):
        return ReimbursementClaim.objects.filter(application__in=visible_applications(request))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(claimed=Sum("expenses__amount"))

    def has_add_permission(self, request):
        return False  # the desk's form is the "Nuova richiesta allo sportello" button

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _open(self, request, object_id) -> bool:
        status = (
            self.get_queryset(request)
            .filter(pk=unquote(str(object_id)))
            .values_list("status", flat=True)
            .first()
        )
        return status == ReimbursementClaim.Status.SUBMITTED

    def has_review_permission(self, request, object_id=None):
        allowed = request.user.has_perm("vouchers.change_reimbursementclaim")
        return allowed and (object_id is None or self._open(request, object_id))

    def has_desk_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.add_reimbursementclaim")

    def has_pay_permission(self, request, obj=None):
        return sees_everything(request.user) and request.user.has_perm("core.add_paymentbatch")

    # Displays.

    @display(description=_("protocollo della domanda"))
    def protocol(self, obj):
        return obj.application.protocol_number

    @display(description=_("stato"), label=CLAIM_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("stato"))
    def status_detail(self, obj):
        return status_badge(obj.get_status_display(), CLAIM_STATUS_VARIANTS[obj.status])

    @display(description=_("importo richiesto"), ordering="claimed")
    def claimed_display(self, obj):
        # SQLite adds decimals as floats: back to cents.
        return euro((obj.claimed or ZERO).quantize(CENT))

    @display(description=_("importo ammesso"))
    def approved_display(self, obj):
        return euro(approved_total(obj))

    @display(description=_("massimale residuo"))
    def cap_display(self, obj):
        return format_html(
            "{} <span class='text-subtle text-xs'>{}</span>",
            euro(claim_cap_remaining(obj)),
            _("concesso alla domanda, meno le altre richieste approvate"),
        )

    # Receipts are personal documents: served only to those who see the claim.

    def get_urls(self):
        return [
            path(
                "<path:object_id>/scontrini/<int:expense_id>/",
                self.admin_site.admin_view(self.receipt_view),
                name="vouchers_reimbursementclaim_receipt",
            ),
            *super().get_urls(),
        ]

    def _claim(self, request, object_id) -> ReimbursementClaim:
        claim = self.get_object(request, unquote(str(object_id)))
        if claim is None:
            raise Http404
        return claim

    def receipt_view(self, request, object_id, expense_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        expense = self._claim(request, object_id).expenses.filter(pk=expense_id).first()
        if expense is None:
            raise Http404
        return stored_file_response(
            expense.receipt, content_type=expense.receipt_content_type, attachment=True
        )

    # The review.

    def _summary(self, claim: ReimbursementClaim) -> list[tuple]:
        return [
            (_("Beneficiario"), claim.beneficiary),
            (_("Bando"), claim.initiative),
            (_("Domanda"), claim.application.protocol_number),
            (_("Importo richiesto"), euro(claim.total_claimed)),
            (_("Importo ammesso finora"), euro(approved_total(claim))),
            (_("Massimale residuo della domanda"), euro(claim_cap_remaining(claim))),
            (
                _("Budget disponibile del bando"),
                euro(initiative_budget_available(initiative=claim.initiative)),
            ),
        ]

    def _expense_table(self, expenses) -> dict:
        return {
            "headers": [
                _("Data"),
                _("Categoria"),
                _("Descrizione"),
                _("Importo"),
                _("Scontrino"),
                _("Esito"),
                _("Ammesso"),
                _("Motivo"),
            ],
            "rows": [
                [
                    expense.spent_on.strftime("%d/%m/%Y"),
                    expense.category.name,
                    expense.description or "—",
                    euro(expense.amount),
                    receipt_link(expense),
                    expense.get_status_display(),
                    euro(expense.approved_amount),
                    expense.refusal_reason or "—",
                ]
                for expense in expenses
            ],
        }

    @action(
        description=_("Esamina le spese"),
        url_path="esamina",
        icon="fact_check",
        variant=ActionVariant.PRIMARY,
        permissions=["review"],
    )
    def review_detail(self, request, object_id):
        claim = self._claim(request, object_id)
        expenses = list(claim.expenses.select_related("category").order_by("spent_on", "pk"))
        form = bound_if_confirmed(ReviewForm, request, expenses=expenses)
        if form.is_valid():
            try:
                with transaction.atomic():
                    count = 0
                    for expense, decision, amount, reason in form.decisions():
                        expense_review(
                            expense=expense,
                            decision=decision,
                            approved_amount=amount,
                            reason=reason,
                            reviewed_by=request.user,
                        )
                        count += 1
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request,
                    _("Spese esaminate: %(count)d.") % {"count": count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url(claim))
        return action_form_page(
            request,
            self,
            title=_("Esamina le spese della richiesta n. %(number)s") % {"number": claim.pk},
            description=_(
                "Per ogni spesa: ammessa per intero, ridotta (con l'importo ammesso) o non "
                "ammessa. Riduzioni ed esclusioni hanno sempre un motivo, che il beneficiario "
                "legge nell'app. Il massimale del bando si applica alla chiusura dell'esame."
            ),
            form=form,
            summary=self._summary(claim),
            table=self._expense_table(expenses),
            submit_label=_("Salva l'esame"),
            obj=claim,
        )

    @action(
        description=_("Chiudi l'esame"),
        url_path="chiudi-esame",
        icon="gavel",
        permissions=["review"],
    )
    def decide_detail(self, request, object_id):
        claim = self._claim(request, object_id)
        if is_confirmed(request):
            try:
                claim = claim_decide(claim=claim, decided_by=request.user)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return HttpResponseRedirect(change_url(claim))
            self.message_user(
                request,
                _("Esame chiuso: %(status)s, importo ammesso %(total)s.")
                % {"status": claim.get_status_display(), "total": euro(approved_total(claim))},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(change_url(claim))
        expenses = list(claim.expenses.select_related("category").order_by("spent_on", "pk"))
        return action_form_page(
            request,
            self,
            title=_("Chiudi l'esame della richiesta n. %(number)s") % {"number": claim.pk},
            description=_(
                "L'importo ammesso non supera quanto concesso alla domanda, meno le altre "
                "richieste già approvate: le spese oltre il massimale vengono ridotte, con il "
                "motivo. Il totale passa dal budget del bando al debito verso il beneficiario. "
                "Chi ha inserito la richiesta allo sportello non può chiuderne l'esame."
            ),
            form=ConfirmForm(),
            summary=self._summary(claim),
            table=self._expense_table(expenses),
            submit_label=_("Chiudi l'esame"),
            obj=claim,
        )

    # The desk.

    @action(
        description=_("Nuova richiesta allo sportello"),
        url_path="sportello",
        icon="add_notes",
        permissions=["desk"],
    )
    def desk_claim(self, request):
        applications = (
            visible_applications(request)
            .filter(
                initiative__benefit_kind=Initiative.BenefitKind.REIMBURSEMENT,
                status=Application.Status.APPROVED,
                outcome__in=[Application.Outcome.FUNDED, Application.Outcome.ISSUED],
            )
            .select_related("applicant")
            .order_by("-submitted_at")
        )
        confirmed = is_confirmed(request)
        form = DeskClaimForm(
            request.POST if confirmed else None,
            request.FILES if confirmed else None,
            applications=applications,
        )
        if form.is_valid():
            try:
                claim = reimbursement_claim_submit(
                    application=form.cleaned_data["application"],
                    expenses=[
                        ExpenseData(
                            amount=row["amount"],
                            spent_on=row["spent_on"],
                            category=row["category"],
                            receipt=row["receipt"],
                            description=row["description"] or "",
                        )
                        for row in form.cleaned_data["rows"]
                    ],
                    submitted_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request,
                    _("Richiesta registrata: la esamina un'altra persona."),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url(claim))
        return action_form_page(
            request,
            self,
            title=_("Nuova richiesta di rimborso allo sportello"),
            description=_(
                "Per chi porta gli scontrini allo sportello: scegli la domanda finanziata e "
                "carica ogni scontrino o fattura (PDF, JPEG o PNG, al massimo 10 MB)."
            ),
            form=form,
            submit_label=_("Registra la richiesta"),
            cancel_url=changelist_url(ReimbursementClaim),
        )

    # Paying the beneficiaries.

    @action(
        description=_("Prepara distinta beneficiari"),
        url_path="prepara-distinta",
        icon="payments",
        permissions=["pay"],
    )
    def prepare_batch(self, request):
        initiatives = visible_initiatives(request).filter(
            benefit_kind__in=[
                Initiative.BenefitKind.REIMBURSEMENT,
                Initiative.BenefitKind.CASH_TRANSFER,
            ]
        )
        confirmed = is_confirmed(request)
        form = BatchForm(
            request.POST if confirmed else request.GET or None, initiatives=initiatives
        )
        initiative = None
        if form.is_bound and form.is_valid():
            initiative = form.cleaned_data["initiative"]
            if confirmed:
                try:
                    result = beneficiary_payment_batch_prepare(
                        initiative=initiative,
                        prepared_by=request.user,
                        execution_date=form.cleaned_data["execution_date"],
                    )
                except DomainError as exc:
                    form.add_error(None, exc.detail)
                else:
                    batch = result.batch
                    self.message_user(
                        request,
                        _(
                            "Distinta preparata: %(count)d bonifici per %(total)s. Deve "
                            "autorizzarla una persona diversa da chi l'ha preparata."
                        )
                        % {"count": batch.transfers_count, "total": euro(batch.total)},
                        messages.SUCCESS,
                    )
                    if result.excluded:
                        self.message_user(
                            request,
                            _("Pagamenti esclusi per l'IBAN: %(count)d.")
                            % {"count": len(result.excluded)},
                            messages.WARNING,
                        )
                    return HttpResponseRedirect(change_url(batch))
        payable, excluded = payable_claims(initiative=initiative)
        cash_payable, cash_excluded = payable_cash_grants(initiative=initiative)
        rows = [
            [
                _("Rimborso n. %(number)s") % {"number": item.claim.pk},
                item.claim.beneficiary,
                item.claim.initiative,
                item.claim.application.protocol_number,
                item.iban or "—",
                euro(item.amount),
                item.excluded_reason or _("Da pagare"),
            ]
            for item in [*payable, *excluded]
        ] + [
            [
                _("Contributo"),
                item.application.applicant,
                item.application.initiative,
                item.application.protocol_number,
                item.iban or "—",
                euro(item.amount),
                item.excluded_reason or _("Da pagare"),
            ]
            for item in [*cash_payable, *cash_excluded]
        ]
        payable = [*payable, *cash_payable]
        excluded = [*excluded, *cash_excluded]
        return action_form_page(
            request,
            self,
            title=_("Prepara la distinta dei pagamenti ai beneficiari"),
            description=_(
                "Un bonifico SEPA per ogni rimborso approvato e non ancora pagato, "
                "dell'importo ammesso, e per ogni contributo economico concesso e non ancora "
                "pagato, all'IBAN della domanda. Chi non ha un IBAN valido resta fuori ed è "
                "elencato qui sotto con il motivo. La distinta va poi autorizzata da "
                "un'altra persona."
            ),
            form=form,
            summary=[
                (_("Bonifici da fare"), len(payable)),
                (_("Totale"), euro(sum((item.amount for item in payable), ZERO))),
                (_("Escluse"), len(excluded)),
            ],
            table={
                "headers": [
                    _("Pagamento"),
                    _("Beneficiario"),
                    _("Bando"),
                    _("Domanda"),
                    _("IBAN"),
                    _("Importo"),
                    _("Esito"),
                ],
                "rows": rows,
            },
            submit_label=_("Prepara distinta"),
            cancel_url=changelist_url(ReimbursementClaim),
        )


# --- The municipalities' transfers -----------------------------------------------------------


class TransferForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=_("Bando"), queryset=Initiative.objects.none(), widget=UnfoldAdminSelectWidget
    )
    municipality = forms.ModelChoiceField(
        label=_("Comune"), queryset=Organization.objects.none(), widget=UnfoldAdminSelectWidget
    )
    amount = EuroField(label=_("Importo (€)"), min_value=CENT, widget=UnfoldAdminTextInputWidget)
    value_date = forms.DateField(label=_("Data valuta"), widget=UnfoldAdminDateWidget)
    bank_reference = forms.CharField(
        label=_("Riferimento bancario (CRO/TRN)"),
        max_length=50,
        required=False,
        widget=UnfoldAdminTextInputWidget,
    )
    note = forms.CharField(
        label=_("Nota"), max_length=255, required=False, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args, initiatives, municipalities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["initiative"].queryset = initiatives
        self.fields["municipality"].queryset = municipalities


class MatchingForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=_("Bando"), queryset=Initiative.objects.none(), widget=UnfoldAdminSelectWidget
    )

    def __init__(self, *args, initiatives, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["initiative"].queryset = initiatives


@admin.register(IncomingTransfer)
class IncomingTransferAdmin(ScopedAdminMixin, ModelAdmin):
    """Transfers are recorded by the agency; a municipality's staff see their own."""

    list_display = [
        "value_date",
        "municipality",
        "initiative",
        "amount_display",
        "bank_reference",
        "recorded_by",
    ]
    list_filter = [
        ("initiative", ScopedRelatedDropdownFilter),
        ("municipality", ScopedRelatedDropdownFilter),
    ]
    search_fields = ["=bank_reference"]
    list_select_related = ["municipality", "initiative", "recorded_by"]
    fields = [
        "municipality",
        "initiative",
        "amount_display",
        "value_date",
        "bank_reference",
        "note",
        "journal",
        "recorded_by",
        "recorded_at",
    ]
    readonly_fields = fields
    actions_list = ["record_transfer", "matching"]

    def scoped_queryset(self, request):
        return IncomingTransfer.objects.filter(municipality__in=visible_municipalities(request))

    def has_add_permission(self, request):
        return False  # the "Registra trasferimento" button calls the service

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_record_permission(self, request, obj=None):
        return sees_everything(request.user) and request.user.has_perm(
            "vouchers.add_incomingtransfer"
        )

    def has_matching_permission(self, request, obj=None):
        return self.has_view_permission(request)

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @action(
        description=_("Registra trasferimento"),
        url_path="registra",
        icon="account_balance",
        permissions=["record"],
    )
    def record_transfer(self, request):
        form = bound_if_confirmed(
            TransferForm,
            request,
            initiatives=visible_initiatives(request),
            municipalities=visible_municipalities(request),
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                incoming_transfer_record(
                    municipality=data["municipality"],
                    initiative=data["initiative"],
                    amount=data["amount"],
                    value_date=data["value_date"],
                    bank_reference=data["bank_reference"],
                    note=data["note"],
                    recorded_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, _("Trasferimento registrato."), messages.SUCCESS)
                return HttpResponseRedirect(
                    changelist_url(IncomingTransfer, initiative__id__exact=data["initiative"].pk)
                )
        return action_form_page(
            request,
            self,
            title=_("Registra il trasferimento di un comune"),
            description=_(
                "Il bonifico unico con cui il comune trasferisce all'agenzia le somme del "
                "bando. Non aumenta il budget (già finanziato dal contributo): serve alla "
                "quadratura con quanto l'agenzia ha pagato."
            ),
            form=form,
            submit_label=_("Registra"),
            cancel_url=changelist_url(IncomingTransfer),
        )

    @action(
        description=_("Quadratura per bando"),
        url_path="quadratura",
        icon="balance",
        permissions=["matching"],
    )
    def matching(self, request):
        initiatives = visible_initiatives(request)
        data = request.POST if is_confirmed(request) else (request.GET or None)
        form = MatchingForm(data, initiatives=initiatives)
        table = None
        summary = []
        if form.is_bound and form.is_valid():
            initiative = form.cleaned_data["initiative"]
            rows = initiative_transfer_matching(
                initiative=initiative, municipalities=visible_municipalities(request)
            )
            table = {
                "headers": [
                    _("Comune"),
                    _("Ricevuto dal comune"),
                    _("Pagato ai negozi"),
                    _("Rimborsi pagati"),
                    _("Contributi pagati"),
                    _("Totale pagato"),
                    _("Differenza"),
                ],
                "rows": [
                    [
                        row.municipality,
                        euro(row.received),
                        euro(row.paid_to_shops),
                        euro(row.paid_reimbursements),
                        euro(row.paid_cash_grants),
                        euro(row.paid_out),
                        euro(row.difference),
                    ]
                    for row in rows
                ],
            }
            summary = [(_("Bando"), initiative)]
        return action_form_page(
            request,
            self,
            title=_("Quadratura dei trasferimenti per bando"),
            description=_(
                "Per ogni comune del bando: quanto ha trasferito all'agenzia e quanto "
                "l'agenzia ha pagato per i suoi residenti (liquidazioni ai negozi pagate dalla "
                "banca, rimborsi pagati e contributi economici pagati). Differenza positiva: "
                "somme da restituire o a "
                "credito; negativa: somme ancora da ricevere."
            ),
            form=form,
            summary=summary,
            table=table,
            submit_label=_("Mostra"),
            cancel_url=changelist_url(IncomingTransfer),
        )
