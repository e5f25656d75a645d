"""Form fields shared by the admin and the app."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from core.money import InvalidAmount, format_euro, parse_euro

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
        **kwargs,
    ):
        # A model's DecimalField passes its digits: its own validators check them.
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if not widget.is_hidden:
            attrs.update(inputmode="decimal", autocomplete="off", maxlength=str(EURO_MAX_LENGTH))
        return attrs

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
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

    def prepare_value(self, value):
        # An initial Decimal is shown as the reader writes it: 8500,00 in Italian.
        if isinstance(value, Decimal):
            return formats.number_format(value, decimal_pos=2, use_l10n=True)
        return value
