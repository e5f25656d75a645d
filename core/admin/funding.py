"""Admin of contributions of every kind: donations with their receipt, loyalty points.

A contribution is recorded through ``contribution_register``, never saved directly: the
form asks what each kind of funder needs; the page adds the donation receipt and the
loyalty-points import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import ForeignKey, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RelatedDropdownFilter
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from core.admin.toolkit import (
    EURO_AMOUNTS,
    DayRangeFilter,
    FundDropdownFilter,
    RowScopedAdminMixin,
    ServiceSaveMixin,
    action_form_page,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
    staff_user,
)
from core.forms import SpreadsheetUploadForm
from core.models import Contribution, Fund, Organization
from core.selectors import funds_for
from core.services.funding import (
    LOYALTY_COLUMNS,
    ContributionError,
    contribution_register,
    is_donation,
    loyalty_points_import,
)
from core.services.receipts import donation_receipt_pdf


def funder_label(funder: Organization) -> str:
    """A funder with its kind, so the form says what kind of contribution it records."""
    kind = funder.get_funder_kind_display() or funder.get_kind_display()
    return f"{funder.name} ({kind})"


if TYPE_CHECKING:  # django-stubs make these generic; Django's own classes are not
    _ModelChoiceField = forms.ModelChoiceField[Organization]
    _ModelForm = forms.ModelForm[Contribution]
else:
    _ModelChoiceField = forms.ModelChoiceField
    _ModelForm = forms.ModelForm


class FunderChoiceField(_ModelChoiceField):
    def label_from_instance(self, obj: Organization) -> str:
        return funder_label(obj)


class ContributionForm(_ModelForm):
    """Checks a donation's donor on the form itself, so the person keeps what he typed."""

    class Meta:
        model = Contribution
        fields = [
            "fund",
            "funder",
            "amount",
            "received_on",
            "document_reference",
            "purpose",
            "donor_name",
            "donor_fiscal_code",
            "donor_address",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data is None:  # a ModelForm's clean() returns its cleaned data
            data = self.cleaned_data
        funder = data.get("funder")
        if funder is None:
            return data
        donor_fields = ["donor_name", "donor_fiscal_code", "donor_address"]
        if is_donation(funder):
            if not (data.get("donor_name") or "").strip():
                self.add_error("donor_name", ContributionError("donor_required").detail)
        else:
            for name in donor_fields:
                if (data.get(name) or "").strip():
                    self.add_error(name, ContributionError("donor_only_for_donations").detail)
        received_on = data.get("received_on")
        if received_on and received_on > timezone.localdate():
            self.add_error("received_on", ContributionError("future_date").detail)
        return data


class LoyaltyImportForm(SpreadsheetUploadForm):
    file_help_text = _(
        "Colonne: data, punto_vendita, punti. Se una riga ha un errore non si registra "
        "nulla: correggi il file e caricalo di nuovo."
    )
    field_order = ["fund", "funder", "rate", "received_on", "document_reference", "file"]

    fund = forms.ModelChoiceField(
        label=_("Fondo"), queryset=Fund.objects.all(), widget=UnfoldAdminSelectWidget
    )
    funder = FunderChoiceField(
        label=_("Programma fedeltà"),
        queryset=Organization.objects.filter(
            kind=Organization.Kind.FUNDER, funder_kind=Organization.FunderKind.RETAILER
        ),
        widget=UnfoldAdminSelectWidget,
    )
    rate = forms.CharField(
        label=_("Valore di un punto (euro)"),
        max_length=20,
        widget=UnfoldAdminTextInputWidget,
        help_text=_(
            "Per esempio 0,01. L'importo del contributo è punti totali × valore, "
            "arrotondato una sola volta al centesimo (per eccesso da mezzo centesimo)."
        ),
    )
    received_on = forms.DateField(
        label=_("Data del contributo"), widget=UnfoldAdminDateWidget, initial=timezone.localdate
    )
    document_reference = forms.CharField(
        label=_("Riferimento dell'atto"),
        max_length=200,
        required=False,
        widget=UnfoldAdminTextInputWidget,
    )


@admin.register(Contribution)
class ContributionAdmin(ServiceSaveMixin, RowScopedAdminMixin, ModelAdmin):
    """Contributions of every kind, recorded through ``contribution_register``."""

    form = ContributionForm
    formfield_overrides = EURO_AMOUNTS
    list_display = [
        "received_on",
        "funder",
        "funder_kind_display",
        "fund",
        "amount_display",
        "document_reference",
        "receipt_display",
        "journal_link",
    ]
    list_filter = [
        ("fund", FundDropdownFilter),
        ("funder", RelatedDropdownFilter),
        ("funder__funder_kind", ChoicesDropdownFilter),
        ("received_on", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = [
        "funder__name",
        "fund__name",
        "document_reference",
        "donor_name",
        "donor_fiscal_code",
    ]
    list_select_related = ["funder", "fund"]
    show_full_result_count = False
    # The add page asks what the form records.
    add_fields = ContributionForm.Meta.fields
    detail_fields = [
        "fund",
        "funder",
        "funder_kind_display",
        "amount",
        "received_on",
        "document_reference",
        "purpose",
        "donor_name",
        "donor_fiscal_code",
        "donor_address",
        "receipt_display",
        "loyalty_display",
        "journal_link",
        "created_at",
    ]
    actions_list = ["import_loyalty_points"]
    actions_detail = ["download_receipt"]

    def get_fields(self, request: HttpRequest, obj: Contribution | None = None) -> Sequence[str]:
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: Contribution | None = None
    ) -> Sequence[str]:
        return [] if obj is None else self.detail_fields

    def has_change_permission(self, request: HttpRequest, obj: Contribution | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Contribution | None = None) -> bool:
        return False

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        return Contribution.objects.filter(fund__in=funds_for(user=request.user))

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "fund":
            kwargs["queryset"] = funds_for(user=request.user)
        if db_field.name == "funder":
            # Only a funder or a municipality puts money into a fund (the service refuses
            # any other kind); offering only those makes a wrong choice a form error.
            kwargs["queryset"] = Organization.objects.filter(
                kind__in=[Organization.Kind.FUNDER, Organization.Kind.MUNICIPALITY]
            )
            kwargs["form_class"] = FunderChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_through_service(self, request: HttpRequest, data: dict[str, Any]) -> Contribution:
        return contribution_register(
            fund=data["fund"],
            funder=data["funder"],
            amount=data["amount"],
            received_on=data["received_on"],
            document_reference=data.get("document_reference", ""),
            purpose=data.get("purpose", ""),
            donor_name=data.get("donor_name", ""),
            donor_fiscal_code=data.get("donor_fiscal_code", ""),
            donor_address=data.get("donor_address", ""),
            recorded_by=staff_user(request),
        )

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj: Contribution) -> str:
        return euro(obj.amount)

    @display(description=_("registrazione"))
    def journal_link(self, obj: Contribution) -> str:
        if obj.journal_id is None:
            return "—"
        url = reverse("admin:core_journal_change", args=[obj.journal_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.journal_id)

    @display(description=_("tipo di finanziatore"))
    def funder_kind_display(self, obj: Contribution) -> str:
        if obj.funder_id is None:
            return "—"
        return obj.funder.get_funder_kind_display() or obj.funder.get_kind_display()

    @display(description=_("ricevuta"))
    def receipt_display(self, obj: Contribution) -> str:
        return obj.receipt_label or "—"

    @display(description=_("punti fedeltà"))
    def loyalty_display(self, obj: Contribution) -> str:
        if obj.loyalty_points is None or obj.loyalty_rate is None:
            return "—"
        return _("%(points)s punti × %(rate)s € (%(rows)s righe)") % {
            "points": obj.loyalty_points,
            "rate": obj.loyalty_rate.normalize(),
            "rows": obj.loyalty_lines.count(),
        }

    # The donation receipt.

    def has_download_receipt_permission(
        self, request: HttpRequest, object_id: str | None = None
    ) -> bool:
        if not self.has_view_permission(request):
            return False
        if object_id is None:
            return True
        return Contribution.objects.filter(
            pk=unquote(str(object_id)), receipt_number__isnull=False
        ).exists()

    @action(
        description=_("Scarica la ricevuta"),
        url_path="ricevuta",
        icon="receipt_long",
        permissions=["download_receipt"],
    )
    def download_receipt(self, request: HttpRequest, object_id: str) -> HttpResponse:
        contribution = self.get_object(request, unquote(object_id))
        if contribution is None or contribution.receipt_number is None:
            raise Http404
        content = donation_receipt_pdf(contribution=contribution)
        response = HttpResponse(content, content_type="application/pdf")
        filename = f"ricevuta-{contribution.receipt_year}-{contribution.receipt_number:06d}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"  # it names the donor
        return response

    # The loyalty-points import.

    def has_import_loyalty_points_permission(
        self, request: HttpRequest, obj: Contribution | None = None
    ) -> bool:
        return request.user.has_perm("core.add_contribution")

    @action(
        description=_("Importa punti fedeltà"),
        url_path="importa-punti-fedelta",
        icon="loyalty",
        permissions=["import_loyalty_points"],
    )
    def import_loyalty_points(self, request: HttpRequest) -> HttpResponse:
        confirmed = is_confirmed(request)
        form = LoyaltyImportForm(
            request.POST if confirmed else None, request.FILES if confirmed else None
        )
        fund_field = cast("forms.ModelChoiceField[Fund]", form.fields["fund"])
        fund_field.queryset = funds_for(user=request.user)
        table = None
        if confirmed and form.is_valid():
            data = form.cleaned_data
            content, rows = form.read()
            if rows is not None:
                try:
                    result = loyalty_points_import(
                        fund=data["fund"],
                        funder=data["funder"],
                        rows=rows,
                        rate=data["rate"],
                        received_on=data["received_on"],
                        document_reference=data["document_reference"],
                        content=content,
                        recorded_by=staff_user(request),
                    )
                except ContributionError as exc:
                    field = "rate" if exc.code == "invalid_rate" else "file"
                    if exc.code == "not_a_retailer":
                        field = "funder"
                    elif exc.code == "future_date":
                        field = "received_on"
                    form.add_error(field, exc.detail)
                else:
                    if result.contribution is not None:
                        self.message_user(
                            request,
                            _(
                                "Registrato un contributo di %(amount)s: %(points)s punti da "
                                "%(rows)s righe."
                            )
                            % {
                                "amount": euro(result.amount),
                                "points": result.total_points,
                                "rows": len(rows),
                            },
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(change_url(result.contribution))
                    self.message_user(
                        request,
                        ngettext(
                            "%(count)d riga con errori: nessun contributo registrato.",
                            "%(count)d righe con errori: nessun contributo registrato.",
                            len(result.errors),
                        )
                        % {"count": len(result.errors)},
                        messages.ERROR,
                    )
                    table = {
                        "headers": [_("Riga"), _("Errore")],
                        "rows": [[error.row, error.message] for error in result.errors],
                    }
        return action_form_page(
            request,
            self,
            title=_("Importa i punti di un programma fedeltà"),
            description=_(
                "Un file di punti diventa un solo contributo al fondo, al valore del punto "
                "indicato. Colonne: %(columns)s."
            )
            % {"columns": ", ".join(LOYALTY_COLUMNS)},
            form=form,
            table=table,
            table_note=_("Le righe sono numerate come nel foglio: l'intestazione è la riga 1."),
            submit_label=_("Importa"),
            cancel_url=changelist_url(Contribution),
        )
