"""The desk's intake of an application: the "add" page of applications.

A desk operator (or a tutor, for his cases) fills in the citizen's data, household,
declarations and attachments for a published call; the page calls
``application_submit_with_documents`` and shows every refusal of the service as an error on
the field it concerns.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminEmailInputWidget,
    UnfoldAdminFileFieldWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanWidget,
)

from core.admin.toolkit import change_url, changelist_url
from core.errors import DomainError
from core.forms import EuroField
from core.models import Role
from core.uploads import UploadError, checked_upload
from vouchers.admin.phases import pdf_response
from vouchers.admin.scoping import request_scope, visible_applications, visible_initiatives
from vouchers.errors import ProgrammeError
from vouchers.forms.applications import MEMBER_ROWS, HouseholdFormMixin, member_field
from vouchers.models import Application, Initiative, validate_fiscal_code
from vouchers.outcome_letters import application_receipt_print
from vouchers.services.applications import (
    ELIGIBILITY_CODES,
    ISEE_CEILING,
)
from vouchers.services.intake import application_submit_with_documents

# Where each refusal of ``application_submit`` belongs on the desk's form.
ERROR_FIELDS = {
    "invalid_fiscal_code": "fiscal_code",
    "fiscal_code_mismatch": "fiscal_code",
    "already_applied": "fiscal_code",
    "not_resident": "municipality",
    "declarations_missing": "declarations",
    "isee_required": "isee",
    "isee_too_high": "isee",
    "invalid_isee": "isee",
    "iban_required": "iban",
    "invalid_iban": "iban",
}


class MultipleFileInput(UnfoldAdminFileFieldWidget):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked like a single upload."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def text_field(label, max_length, *, required=True, **kwargs):
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        widget=UnfoldAdminTextInputWidget,
        **kwargs,
    )


class IntakeForm(HouseholdFormMixin, forms.Form):
    """An application entered at the desk (or by a tutor) for a citizen."""

    initiative = forms.IntegerField(widget=forms.HiddenInput)
    fiscal_code = text_field(_("Codice fiscale"), 16)
    first_name = text_field(_("Nome"), 100)
    last_name = text_field(_("Cognome"), 100)
    birth_date = forms.DateField(label=_("Data di nascita"), widget=UnfoldAdminSingleDateWidget)
    sex = forms.ChoiceField(
        label=_("Sesso"),
        choices=[("F", _("Femmina")), ("M", _("Maschio"))],
        widget=UnfoldAdminRadioSelectWidget,
    )
    municipality = forms.ModelChoiceField(
        label=_("Comune di residenza"), queryset=None, widget=UnfoldAdminSelectWidget
    )
    street = text_field(
        _("Indirizzo"),
        200,
        help_text=_("Obbligatorio: via e numero civico, dove spedire la lettera con l'esito."),
    )
    postal_code = text_field(_("CAP"), 5, min_length=5)
    email = forms.EmailField(label=_("E-mail"), required=False, widget=UnfoldAdminEmailInputWidget)
    phone = text_field(_("Telefono"), 30, required=False)
    isee = EuroField(
        label=_("Valore ISEE (€)"),
        max_value=ISEE_CEILING,
        required=False,
        widget=UnfoldAdminTextInputWidget,  # the desk types 4.200,00
    )
    dsu_protocol = text_field(_("Protocollo DSU"), 40, required=False)
    iban = text_field(_("IBAN"), 42, required=False)
    declarations = forms.MultipleChoiceField(
        label=_("Dichiarazioni del richiedente"),
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    register_ineligible = forms.BooleanField(
        label=_("Registra la domanda e respingila per mancanza dei requisiti"),
        required=False,
        widget=UnfoldBooleanWidget,
        help_text=_(
            "Il richiedente ha diritto a una decisione: la domanda riceve il protocollo ed è "
            "subito respinta con i motivi indicati, che gli sono comunicati con l'esito."
        ),
    )
    attachments = MultipleFileField(
        label=_("Allegati"),
        required=False,
        help_text=_("PDF, JPEG o PNG, al massimo 10 MB ciascuno (ISEE, documento, altro)."),
    )

    def __init__(self, *args, initiative: Initiative, municipalities, **kwargs):
        super().__init__(*args, **kwargs)
        self.initiative = initiative
        # Shown once the call's rules refused the applicant, for the operator to confirm.
        self.offer_refusal = bool(self.data.get("register_ineligible"))
        self.fields["initiative"].initial = initiative.pk
        self.fields["municipality"].queryset = municipalities
        declarations = initiative.declaration_list
        self.fields["declarations"].choices = [(text, text) for text in declarations]
        if not declarations:
            del self.fields["declarations"]
        if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
            self.fields["iban"].help_text = _("Obbligatorio: il bando rimborsa spese sostenute.")
        elif initiative.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER:
            self.fields["iban"].help_text = _(
                "Obbligatorio: il contributo economico è pagato con bonifico su questo conto."
            )
        self.add_member_fields(
            child_label=_("Figlio"),
            text_widget=UnfoldAdminTextInputWidget,
            date_widget=UnfoldAdminSingleDateWidget,
            boolean_widget=UnfoldBooleanWidget,
        )

    def section(self, *names):
        return [self[name] for name in names if name in self.fields]

    def applicant_fields(self):
        return self.section("fiscal_code", "first_name", "last_name", "birth_date", "sex")

    def address_fields(self):
        return self.section("municipality", "street", "postal_code", "email", "phone")

    def money_fields(self):
        return self.section("isee", "dsu_protocol", "iban")

    def clean_fiscal_code(self):
        return self.cleaned_data["fiscal_code"].strip().upper()

    def clean_attachments(self):
        files = self.cleaned_data.get("attachments") or []
        for uploaded in files:
            try:
                checked_upload(uploaded)
            except UploadError as exc:
                raise forms.ValidationError(f"{uploaded.name}: {exc.detail}") from exc
        return files

    def clean(self):
        data = super().clean()
        incomplete = self.incomplete_member_rows(data)
        for index in range(MEMBER_ROWS):
            code_field = member_field(index, "fiscal_code")
            if index in incomplete:
                self.add_error(
                    code_field,
                    _("Componente %(n)d: indica codice fiscale, nome, cognome e data di nascita.")
                    % {"n": index + 1},
                )
            elif data.get(code_field):
                code = data[code_field].strip().upper()
                try:
                    validate_fiscal_code(code)
                except forms.ValidationError:
                    self.add_error(
                        code_field,
                        _("Componente %(n)d: codice fiscale non valido.") % {"n": index + 1},
                    )
                data[code_field] = code
        return data


class ApplicationIntakeMixin:
    """The desk's form as the "add" page of ``ApplicationAdmin``."""

    def _intake_initiatives(self, request):
        return (
            visible_initiatives(request)
            .filter(status=Initiative.Status.PUBLISHED)
            .order_by("applications_close_at", "title")
        )

    def _intake_channel(self, request) -> tuple[str, object]:
        scope = request_scope(request)
        if (
            not scope.everything
            and Role.TUTOR in scope.roles
            and Role.DESK_OPERATOR not in scope.roles
        ):
            return Application.Channel.TUTOR, request.user
        return Application.Channel.DESK, None

    def _intake_municipalities(self, request, initiative):
        scope = request_scope(request)
        towns = initiative.municipalities.order_by("name")
        channel, _tutor = self._intake_channel(request)
        if scope.everything or channel == Application.Channel.TUTOR:
            return towns
        return towns.filter(pk__in=scope.municipality_ids)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        calls = self._intake_initiatives(request)
        chosen = request.POST.get("initiative") or request.GET.get("initiative") or ""
        initiative = calls.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Nuova domanda"),
            "has_view_permission": self.has_view_permission(request),
            "cancel_url": changelist_url(Application),
        }
        if initiative is None:
            return TemplateResponse(
                request,
                "admin/vouchers/application/intake.html",
                {**context, "calls": calls, "form": None, "media": self.media},
            )
        form = IntakeForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            initiative=initiative,
            municipalities=self._intake_municipalities(request, initiative),
        )
        if request.method == "POST" and form.is_valid():
            application = self._submit(request, initiative, form)
            if application is not None:
                return self._after_intake(request, application)
        return TemplateResponse(
            request,
            "admin/vouchers/application/intake.html",
            {
                **context,
                "title": _("Nuova domanda: %(initiative)s") % {"initiative": initiative},
                "initiative": initiative,
                "form": form,
                "media": self.media + form.media,
                "channel": Application.Channel(self._intake_channel(request)[0]).label,
            },
        )

    def _submit(self, request, initiative, form) -> Application | None:
        channel, tutor = self._intake_channel(request)
        try:
            application = application_submit_with_documents(
                initiative=initiative,
                data=form.applicant_data(declarations=form.cleaned_data.get("declarations") or []),
                channel=channel,
                documents=form.cleaned_data["attachments"],
                entered_by=request.user,
                tutor=tutor,
                register_ineligible=form.cleaned_data["register_ineligible"],
            )
        except ProgrammeError as exc:
            form.add_error(ERROR_FIELDS.get(exc.code), exc.detail)
            form.offer_refusal = exc.code in ELIGIBILITY_CODES
            return None
        except DomainError as exc:  # an attachment refused after all
            form.add_error("attachments", exc.detail)
            return None
        return application

    def _after_intake(self, request, application):
        receipt = reverse("admin:vouchers_application_receipt_detail", args=[application.pk])
        if application.status == Application.Status.REJECTED:
            text = _(
                "Domanda registrata con protocollo %(protocol)s e respinta per mancanza dei "
                "requisiti del bando."
            )
            level = messages.WARNING
        else:
            text = _("Domanda registrata con protocollo %(protocol)s.")
            level = messages.SUCCESS
        self.message_user(
            request,
            format_html(
                '{} <a href="{}" class="text-link">{}</a>',
                text % {"protocol": application.protocol_number},
                receipt,
                _("Stampa la ricevuta"),
            ),
            level,
        )
        if "_addanother" in request.POST:
            url = reverse("admin:vouchers_application_add")
            return HttpResponseRedirect(f"{url}?initiative={application.initiative_id}")
        if self.get_queryset(request).filter(pk=application.pk).exists():
            return HttpResponseRedirect(change_url(application))
        return HttpResponseRedirect(changelist_url(Application))

    def has_receipt_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_application")

    @action(
        description=_("Stampa la ricevuta"),
        url_path="ricevuta",
        icon="receipt_long",
        permissions=["receipt"],
    )
    def receipt_detail(self, request, object_id):
        application = (
            visible_applications(request)
            .select_related("applicant", "initiative", "municipality")
            .filter(pk=unquote(str(object_id)))
            .first()
        )
        if application is None:
            raise Http404
        return pdf_response(
            application_receipt_print(application=application),
            f"ricevuta-domanda-{application.protocol_year}-{application.protocol_sequence:06d}.pdf",
        )
