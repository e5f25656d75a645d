"""The application form's shared pieces: the household's rows and the applicant's data.

The app (``pwa.forms.ApplicationForm``) and the desk (``vouchers.admin.intake.IntakeForm``)
lay them out with their own widgets and texts; what a row is, when it is complete and how the
form becomes the ``ApplicantData`` of ``application_submit`` are written here only.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from vouchers.services.applications import ApplicantData, MemberData

MEMBER_ROWS = 6
MEMBER_FIELDS = ["fiscal_code", "first_name", "last_name", "birth_date", "is_child"]
# A member's row counts once these are all filled in; a row with only some of them is an error.
MEMBER_REQUIRED_FIELDS = MEMBER_FIELDS[:4]
# What ``ApplicantData`` takes from the form (or, for the app, from the logged-in person).
APPLICANT_FIELDS = [
    "fiscal_code",
    "first_name",
    "last_name",
    "birth_date",
    "sex",
    "municipality",
    "email",
    "phone",
    "street",
    "postal_code",
    "isee",
    "dsu_protocol",
    "iban",
]


def member_field(index: int, name: str) -> str:
    return f"member_{index}_{name}"


class HouseholdFormMixin:
    """The rows of the applicant's household on a ``forms.Form``, and the applicant's data."""

    def add_member_fields(
        self,
        *,
        child_label,
        text_widget=None,
        date_widget=None,
        boolean_widget=None,
    ) -> None:
        def text(label, max_length):
            return forms.CharField(
                label=label, max_length=max_length, required=False, widget=text_widget
            )

        for index in range(MEMBER_ROWS):
            self.fields[member_field(index, "fiscal_code")] = text(_("Codice fiscale"), 16)
            self.fields[member_field(index, "first_name")] = text(_("Nome"), 100)
            self.fields[member_field(index, "last_name")] = text(_("Cognome"), 100)
            self.fields[member_field(index, "birth_date")] = forms.DateField(
                label=_("Data di nascita"),
                required=False,
                widget=date_widget or forms.DateInput(attrs={"type": "date"}),
            )
            self.fields[member_field(index, "is_child")] = forms.BooleanField(
                label=child_label, required=False, widget=boolean_widget
            )

    def member_rows(self) -> list[list]:
        return [
            [self[member_field(index, name)] for name in MEMBER_FIELDS]
            for index in range(MEMBER_ROWS)
        ]

    def incomplete_member_rows(self, data: dict) -> list[int]:
        """The rows (from 0) filled in only in part."""
        incomplete = []
        for index in range(MEMBER_ROWS):
            values = [data.get(member_field(index, name)) for name in MEMBER_REQUIRED_FIELDS]
            if any(values) and not all(values):
                incomplete.append(index)
        return incomplete

    def members(self) -> list[MemberData]:
        data = self.cleaned_data
        return [
            MemberData(
                data[member_field(index, "fiscal_code")].strip().upper(),
                data[member_field(index, "first_name")],
                data[member_field(index, "last_name")],
                data[member_field(index, "birth_date")],
                data[member_field(index, "is_child")],
            )
            for index in range(MEMBER_ROWS)
            if data.get(member_field(index, "fiscal_code"))
        ]

    def applicant_data(self, *, declarations: list[str], **known) -> ApplicantData:
        """The applicant's data for ``application_submit``: the form's fields, save those
        ``known`` already (the app knows who is logged in), with the declarations accepted."""
        values = {**self.cleaned_data, **known}
        return ApplicantData(
            **{name: values[name] for name in APPLICANT_FIELDS},
            declarations_accepted=list(declarations),
            members=self.members(),
        )
