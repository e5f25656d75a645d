"""A reimbursement claim brought to the desk: the application and up to three receipts.

The desk's page calls ``reimbursement_claim_submit``, as the app does, with the same rows.
"""

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from core.admin.toolkit import action_form_page, change_url, changelist_url, is_confirmed
from core.errors import DomainError
from core.forms import EuroField
from core.money import CENT
from vouchers.admin.scoping import visible_applications
from vouchers.forms.expenses import ExpenseRowsMixin
from vouchers.models import Application, Initiative, ReimbursementClaim, SpendingCategory
from vouchers.services.reimbursements import reimbursement_claim_submit


class DeskClaimForm(ExpenseRowsMixin, forms.Form):
    """A claim brought to the desk: the application and up to three receipts."""

    expense_row_count = 3

    application = forms.ModelChoiceField(
        label=_("Domanda"),
        queryset=Application.objects.none(),
        widget=UnfoldAdminSelectWidget,
        error_messages={"required": _("Scegli la domanda finanziata del richiedente.")},
    )

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = applications
        for index in range(self.expense_row_count):
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
        cleaned["rows"] = self.filled_expense_rows(cleaned)
        return cleaned


class ClaimDeskMixin:
    """The desk's page of ``ReimbursementClaimAdmin``."""

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
                    expenses=form.expenses(),
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
