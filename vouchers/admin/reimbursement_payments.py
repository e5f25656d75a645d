"""Paying the beneficiaries of reimbursements: the payment batch of the approved claims."""

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import UnfoldAdminDateWidget, UnfoldAdminSelectWidget

from core.admin.toolkit import action_form_page, change_url, changelist_url, euro, is_confirmed
from core.errors import DomainError
from core.money import ZERO
from vouchers.admin.scoping import visible_initiatives
from vouchers.models import Initiative, ReimbursementClaim
from vouchers.selectors.payments import payable_cash_grants, payable_claims
from vouchers.services.beneficiary_payments import beneficiary_payment_batch_prepare


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


class ClaimPaymentsMixin:
    """The payment batch of ``ReimbursementClaimAdmin``."""

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
