"""Form fields shared by the admin and the app, and the upload of a spreadsheet to import."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminFileFieldWidget

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from core.money import InvalidAmount, format_euro, parse_euro
from core.spreadsheets import read_rows

# Longer than any amount written with separators and a currency sign.
EURO_MAX_LENGTH = 30


class EuroField(forms.CharField):
    """An amount in euros as people type it («8.500,00», «8500,00», «€ 8.500»).

    A text input with the decimal keypad on phones (a number input would let the browser
    drop the comma: «8500,00» became 850000), read by ``core.money.parse_euro``; the cleaned
    value is a Decimal with two places, or None when left empty.
    """

    default_error_messages = {
        "invalid": _("Importo non valido: scrivi un importo in euro, per esempio 8.500,00."),
        "ambiguous": _(
            "«%(value)s» si può leggere in due modi: scrivi i centesimi dopo la virgola, per "
            "esempio 8.500,00 oppure 8,50."
        ),
        "negative": _("L'importo non può essere negativo."),
        "decimals": _("Al massimo due decimali: i centesimi."),
        "too_large": _("Importo non plausibile: al massimo %(limit)s."),
        "too_small": _("L'importo deve essere almeno %(limit)s."),
    }

    def __init__(
        self,
        *,
        min_value: Decimal | None = None,
        max_value: Decimal | None = None,
        max_digits: int | None = None,
        decimal_places: int | None = None,
        **kwargs: Any,
    ) -> None:
        # A model's DecimalField passes its digits: its own validators check them.
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if not widget.is_hidden:
            attrs.update(inputmode="decimal", autocomplete="off", maxlength=str(EURO_MAX_LENGTH))
        return attrs

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # a CharField that gives a Decimal
        text = super().to_python(value)
        if text is None or text in self.empty_values:
            return None
        if len(text) > EURO_MAX_LENGTH:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            amount = parse_euro(text)
        except InvalidAmount as exc:
            code = exc.code if exc.code != "too_large" or self.max_value else "invalid"
            raise ValidationError(
                self.error_messages[code],
                code=code,
                params={"value": text, "limit": format_euro(self.max_value or Decimal(0))},
            ) from exc
        if self.max_value is not None and amount > self.max_value:
            raise ValidationError(
                self.error_messages["too_large"],
                code="too_large",
                params={"limit": format_euro(self.max_value)},
            )
        if self.min_value is not None and amount < self.min_value:
            raise ValidationError(
                self.error_messages["too_small"],
                code="too_small",
                params={"limit": format_euro(self.min_value)},
            )
        return amount

    def prepare_value(self, value: Any) -> Any:
        # An initial Decimal is shown as the reader writes it: 8500,00 in Italian.
        if isinstance(value, Decimal):
            return formats.number_format(value, decimal_pos=2, use_l10n=True)
        return value


MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class SpreadsheetUploadForm(forms.Form):
    """A CSV or XLSX file of at most 5 MB whose rows an import reads (``read_rows``).

    An import's form subclasses it, adds its own fields and says, in ``file_help_text``,
    which columns the file has and what happens to a file with errors.
    """

    file_help_text: StrOrPromise = ""
    unreadable_message = _("Il file non si legge: usa un CSV o un XLSX.")

    file = forms.FileField(
        label=_("File CSV o XLSX"),
        widget=UnfoldAdminFileFieldWidget,
        error_messages={"required": _("Scegli il file da importare.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = self.file_help_text

    def clean_file(self) -> UploadedFile[Any]:
        uploaded: UploadedFile[Any] = self.cleaned_data["file"]
        if not (uploaded.name or "").lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Sono accettati solo file .csv o .xlsx."))
        if (uploaded.size or 0) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("Il file supera i 5 MB: dividilo in più parti."))
        return uploaded

    def read(self) -> tuple[bytes, list[dict[str, str]] | None]:
        """The valid form's file: its content and rows, or no rows and an error on the file."""
        uploaded = self.cleaned_data["file"]
        content = uploaded.read()
        try:
            return content, read_rows(content, filename=uploaded.name or "")
        except Exception:  # tablib and openpyxl raise many kinds on a broken file
            self.add_error("file", self.unreadable_message)
            return content, None
