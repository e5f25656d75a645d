"""Reimbursement claims in the admin: review line by line; the desk's claims
(``vouchers.admin.reimbursement_desk``) and the payment batches
(``vouchers.admin.reimbursement_payments``) are pages of the same admin.

Nothing here edits a claim or an expense by hand: every button opens a page that calls one
service of ``vouchers.services.reimbursements`` and turns a refusal into a message. Staff of a
municipality see the claims of their municipality's applications only; payment batches and
the municipalities' transfers (``vouchers.admin.transfers``) are the agency's matters.
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
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from core.admin.toolkit import (
    ConfirmForm,
    LabelledTabularInline,
    action_form_page,
    bound_if_confirmed,
    change_url,
    euro,
    is_confirmed,
    status_badge,
)
from core.errors import DomainError
from core.forms import EuroField
from core.money import CENT, ZERO
from core.roles import sees_everything
from core.uploads import stored_file_response
from vouchers.admin.reimbursement_desk import ClaimDeskMixin
from vouchers.admin.reimbursement_payments import ClaimPaymentsMixin
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_applications,
)
from vouchers.models import (
    Expense,
    ReimbursementClaim,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.selectors.payments import approved_total
from vouchers.services.reimbursements import (
    claim_cap_remaining,
    claim_decide,
    expense_review,
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


@admin.register(ReimbursementClaim)
class ReimbursementClaimAdmin(ClaimDeskMixin, ClaimPaymentsMixin, ScopedAdminMixin, ModelAdmin):
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
