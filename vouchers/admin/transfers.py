"""The municipalities' transfers in the admin: recording each one and matching, per call,
what each municipality transferred with what was paid for its residents.

Both pages call one service of ``vouchers.services.beneficiary_payments``; they are the agency's matters.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from core.admin.toolkit import (
    action_form_page,
    bound_if_confirmed,
    changelist_url,
    euro,
    is_confirmed,
)
from core.errors import DomainError
from core.forms import EuroField
from core.models import Organization
from core.money import CENT
from core.roles import sees_everything
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_initiatives,
    visible_municipalities,
)
from vouchers.models import IncomingTransfer, Initiative
from vouchers.services.beneficiary_payments import (
    incoming_transfer_record,
    initiative_transfer_matching,
)


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
