"""CSV and XLSX exports of the lists staff work with, through django-import-export.

An export holds the rows of the list as its user sees it (``get_queryset``: the same scope,
filters and search), and never a voucher's whole code: only its last characters, as lists
show it. Printing a voucher is the one way its code leaves the system.
"""

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportActionModelAdmin
from import_export.fields import Field
from import_export.formats.base_formats import CSV, XLSX
from import_export.resources import Resource
from unfold.contrib.import_export.forms import ExportForm

from core.spreadsheets import csv_text, file_name, xlsx_bytes


def _date_time(value) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


def _date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _amount(value):
    """An amount stays a Decimal: a number in XLSX, 8500,00 in an Italian CSV."""
    return value if value is not None else ""


class ReaderCSV(CSV):
    """CSV that opens in columns in the reader's spreadsheet (``core.spreadsheets``)."""

    def export_data(self, dataset, **kwargs):
        return csv_text([dataset.headers, *dataset])


class NumbersXLSX(XLSX):
    """XLSX whose amounts and counts are numbers with a number format."""

    def export_data(self, dataset, **kwargs):
        return xlsx_bytes([dataset.headers, *dataset], title=dataset.title or gettext("Elenco"))


class ExportAdminMixin(ExportActionModelAdmin):
    """Export from the list (the button and the bulk action), CSV or XLSX, unfold's form."""

    export_form_class = ExportForm
    formats = [ReaderCSV, NumbersXLSX]
    show_change_form_export = False

    def get_export_filename(self, request, queryset, file_format):
        # The list's name in Italian and the day: domande-2026-12-07.xlsx.
        return file_name(
            self.model._meta.verbose_name_plural, extension=file_format.get_extension()
        )

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_valid_export_item_pks(self, request):
        # The rows chosen from the list may only be rows the user sees.
        return self.get_queryset(request).values_list("pk", flat=True)


class ListResource(Resource):
    """The columns of a list, as its dehydrate methods write them."""

    @classmethod
    def get_display_name(cls):
        return cls._meta.verbose_name if hasattr(cls._meta, "verbose_name") else cls.__name__


class ApplicationResource(ListResource):
    protocol = Field(column_name=_("protocollo"))
    initiative = Field(column_name=_("bando"))
    municipality = Field(column_name=_("comune"))
    fiscal_code = Field(column_name=_("codice fiscale"))
    last_name = Field(column_name=_("cognome"))
    first_name = Field(column_name=_("nome"))
    channel = Field(column_name=_("canale"))
    status = Field(column_name=_("stato"))
    outcome = Field(column_name=_("esito"))
    rank = Field(column_name=_("posizione"))
    amount = Field(column_name=_("importo"))
    isee = Field(column_name=_("ISEE"))
    household_flag = Field(column_name=_("nucleo già presente"))
    submitted_at = Field(column_name=_("presentata il"))

    def dehydrate_protocol(self, obj):
        return obj.protocol_number

    def dehydrate_initiative(self, obj):
        return obj.initiative.title

    def dehydrate_municipality(self, obj):
        return obj.municipality.name

    def dehydrate_fiscal_code(self, obj):
        return obj.applicant.fiscal_code

    def dehydrate_last_name(self, obj):
        return obj.applicant.last_name

    def dehydrate_first_name(self, obj):
        return obj.applicant.first_name

    def dehydrate_channel(self, obj):
        return obj.get_channel_display()

    def dehydrate_status(self, obj):
        return obj.get_status_display()

    def dehydrate_outcome(self, obj):
        return str(obj.outcome_label)

    def dehydrate_rank(self, obj):
        return obj.rank if obj.rank is not None else ""

    def dehydrate_amount(self, obj):
        return _amount(obj.amount)

    def dehydrate_isee(self, obj):
        return _amount(obj.isee)

    def dehydrate_household_flag(self, obj):
        return str(_("sì")) if obj.household_flag else str(_("no"))

    def dehydrate_submitted_at(self, obj):
        return _date_time(obj.submitted_at)


class BeneficiaryResource(ListResource):
    fiscal_code = Field(column_name=_("codice fiscale"))
    last_name = Field(column_name=_("cognome"))
    first_name = Field(column_name=_("nome"))
    municipality = Field(column_name=_("comune di residenza"))
    email = Field(column_name=_("e-mail"))
    phone = Field(column_name=_("telefono"))
    vouchers = Field(column_name=_("buoni"))
    has_app = Field(column_name=_("usa l'app"))

    def dehydrate_fiscal_code(self, obj):
        return obj.fiscal_code

    def dehydrate_last_name(self, obj):
        return obj.last_name

    def dehydrate_first_name(self, obj):
        return obj.first_name

    def dehydrate_municipality(self, obj):
        return obj.municipality.name

    def dehydrate_email(self, obj):
        return obj.email

    def dehydrate_phone(self, obj):
        return obj.phone

    def dehydrate_vouchers(self, obj):
        return getattr(obj, "held_vouchers", "")

    def dehydrate_has_app(self, obj):
        return str(_("sì")) if obj.user_id else str(_("no"))


class VoucherResource(ListResource):
    code_hint = Field(column_name=_("codice (ultime cifre)"))
    fiscal_code = Field(column_name=_("codice fiscale"))
    holder = Field(column_name=_("intestatario"))
    initiative = Field(column_name=_("bando"))
    face_value = Field(column_name=_("valore"))
    balance = Field(column_name=_("saldo"))
    status = Field(column_name=_("stato"))
    medium = Field(column_name=_("supporto"))
    issued_at = Field(column_name=_("emesso il"))
    valid_until = Field(column_name=_("valido fino al"))

    def dehydrate_code_hint(self, obj):
        return obj.code_hint

    def dehydrate_fiscal_code(self, obj):
        return obj.beneficiary.fiscal_code

    def dehydrate_holder(self, obj):
        return obj.beneficiary.full_name

    def dehydrate_initiative(self, obj):
        return obj.initiative.title

    def dehydrate_face_value(self, obj):
        return _amount(obj.face_value)

    def dehydrate_balance(self, obj):
        return _amount(obj.balance)

    def dehydrate_status(self, obj):
        return obj.get_status_display()

    def dehydrate_medium(self, obj):
        return obj.get_medium_display()

    def dehydrate_issued_at(self, obj):
        return _date_time(obj.issued_at)

    def dehydrate_valid_until(self, obj):
        return _date(obj.valid_until)
