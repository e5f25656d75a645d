"""Forms of the app: labels and errors people read, parsing only (rules live in services)."""

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.forms import EuroField
from core.models import Organization
from core.money import CENT
from vouchers.forms.applications import HouseholdFormMixin
from vouchers.forms.expenses import ExpenseRowsMixin
from vouchers.models import Initiative, SpendingCategory
from vouchers.services.applications import ISEE_CEILING


class EmailLinkForm(forms.Form):
    email = forms.EmailField(label=_("La tua e-mail"), max_length=254)


class AccessCodeForm(forms.Form):
    fiscal_code = forms.CharField(label=_("Codice fiscale"), max_length=16, min_length=16)
    access_code = forms.CharField(
        label=_("Codice di accesso"),
        max_length=20,
        help_text=_("È stampato sulla lettera del Comune, per esempio ABCD-EFGH-JKMN."),
    )


class AccreditationForm(forms.Form):
    name = forms.CharField(label=_("Insegna del negozio"), max_length=200)
    legal_name = forms.CharField(label=_("Ragione sociale"), max_length=200, required=False)
    vat_number = forms.CharField(label=_("Partita IVA"), max_length=13)
    iban = forms.CharField(label=_("IBAN per i pagamenti"), max_length=42)
    street = forms.CharField(label=_("Indirizzo"), max_length=200)
    postal_code = forms.CharField(label=_("CAP"), max_length=5, min_length=5)
    town = forms.CharField(label=_("Località"), max_length=100)
    province = forms.CharField(label=_("Provincia (sigla)"), max_length=2, required=False)
    email = forms.EmailField(label=_("E-mail"))
    phone = forms.CharField(label=_("Telefono"), max_length=30, required=False)
    categories = forms.ModelMultipleChoiceField(
        label=_("Cosa vendi"),
        queryset=SpendingCategory.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
    )
    municipalities = forms.ModelMultipleChoiceField(
        label=_("Comuni in cui operi"),
        queryset=Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY).order_by("name"),
        widget=forms.CheckboxSelectMultiple,
    )
    privacy = forms.BooleanField(label=_("Ho letto l'informativa sulla privacy"), required=True)


class ApplicationForm(HouseholdFormMixin, forms.Form):
    """Online application: the applicant is the logged-in beneficiary."""

    birth_date = forms.DateField(
        label=_("Data di nascita"), widget=forms.DateInput(attrs={"type": "date"})
    )
    sex = forms.ChoiceField(label=_("Sesso"), choices=[("F", _("Femmina")), ("M", _("Maschio"))])
    municipality = forms.ModelChoiceField(
        label=_("Comune di residenza"), queryset=Organization.objects.none()
    )
    street = forms.CharField(label=_("Indirizzo di residenza"), max_length=200)
    postal_code = forms.CharField(label=_("CAP"), max_length=5, min_length=5)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Telefono"), max_length=30, required=False)
    isee = EuroField(label=_("Valore ISEE in euro"), max_value=ISEE_CEILING, required=False)
    dsu_protocol = forms.CharField(label=_("Protocollo DSU"), max_length=40, required=False)
    iban = forms.CharField(label=_("IBAN (per i rimborsi)"), max_length=42, required=False)

    def __init__(self, *args, initiative, **kwargs):
        super().__init__(*args, **kwargs)
        self.initiative = initiative
        self.fields["municipality"].queryset = initiative.municipalities.order_by("name")
        if initiative.benefit_kind in (
            Initiative.BenefitKind.REIMBURSEMENT,
            Initiative.BenefitKind.CASH_TRANSFER,
        ):
            # The benefit is paid by transfer: the service refuses an application without it.
            self.fields["iban"].required = True
            self.fields["iban"].label = _("IBAN per il bonifico")
            self.fields["iban"].help_text = (
                _("Obbligatorio: il contributo è pagato con bonifico su questo conto.")
                if initiative.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER
                else _("Obbligatorio: i rimborsi sono pagati con bonifico su questo conto.")
            )
        for index, text in enumerate(initiative.declaration_list):
            self.fields[f"declaration_{index}"] = forms.BooleanField(label=text, required=True)
        self.add_member_fields(child_label=_("Figlio o figlia"))

    def personal_fields(self):
        return [self[name] for name in PERSONAL_FIELDS]

    def declaration_fields(self):
        return [self[f"declaration_{i}"] for i in range(len(self.initiative.declaration_list))]

    def clean(self):
        data = super().clean()
        incomplete = self.incomplete_member_rows(data)
        if incomplete:
            raise forms.ValidationError(
                _("Componente %(n)s: servono codice fiscale, nome, cognome e data di nascita.")
                % {"n": incomplete[0] + 1}
            )
        return data


PERSONAL_FIELDS = [
    "birth_date",
    "sex",
    "municipality",
    "street",
    "postal_code",
    "email",
    "phone",
    "isee",
    "dsu_protocol",
    "iban",
]


class AnswerForm(forms.Form):
    note = forms.CharField(
        label=_("La tua risposta"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )
    document = forms.FileField(
        label=_("Documento (PDF o foto)"),
        required=False,
        help_text=_("PDF, JPEG o PNG, al massimo 10 MB."),
    )


class ClaimForm(ExpenseRowsMixin, forms.Form):
    """Up to five receipts of one reimbursement claim; empty rows are ignored."""

    expense_row_count = 5

    def __init__(self, *args, initiative, **kwargs):
        super().__init__(*args, **kwargs)
        categories = initiative.allowed_categories.order_by("name")
        for index in range(self.expense_row_count):
            prefix = f"expense_{index}_"
            self.fields[prefix + "amount"] = EuroField(
                label=_("Importo in euro"), min_value=CENT, required=False
            )
            self.fields[prefix + "spent_on"] = forms.DateField(
                label=_("Data della spesa"),
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
            )
            self.fields[prefix + "category"] = forms.ModelChoiceField(
                label=_("Categoria"), queryset=categories, required=False
            )
            self.fields[prefix + "receipt"] = forms.FileField(
                label=_("Foto o PDF dello scontrino"),
                required=False,
                help_text=_("PDF, JPEG o PNG, al massimo 10 MB."),
            )
            self.fields[prefix + "description"] = forms.CharField(
                label=_("Descrizione (facoltativa)"), max_length=200, required=False
            )

    def clean(self):
        data = super().clean()
        rows = self.filled_expense_rows(data)
        if not rows:
            raise forms.ValidationError(_("Aggiungi almeno una spesa con il suo scontrino."))
        data["rows"] = rows
        return data


def submitted(request: HttpRequest) -> tuple:
    """The data and files a form is bound to: none on GET, even an empty POST on POST."""
    return (request.POST, request.FILES) if request.method == "POST" else (None, None)
