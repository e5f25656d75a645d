"""The forms of the enrolment and verification pages."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextInputWidget

from core.otp.services import (
    normalize_code,
)


class EnrolmentForm(forms.Form):
    code = forms.CharField(
        label=_("Codice a 6 cifre mostrato dall'app"),
        max_length=12,
        widget=UnfoldAdminTextInputWidget(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
        error_messages={"required": _("Scrivi il codice a 6 cifre mostrato dall'app.")},
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError(_("Il codice è fatto di 6 cifre."))
        return code


class VerificationForm(forms.Form):
    code = forms.CharField(
        label=_("Codice di verifica"),
        max_length=24,
        help_text=_("Le 6 cifre dell'app di autenticazione, oppure un codice di emergenza."),
        widget=UnfoldAdminTextInputWidget(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "autofocus": True}
        ),
        error_messages={"required": _("Scrivi il codice di verifica.")},
    )
