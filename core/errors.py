"""Domain errors: a stable machine code and a translated sentence for people."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A refused operation. Services raise it; the edges turn it into a response.

    Subclasses list their codes and sentences in ``messages``; the code is part of the API
    contract, the sentence is translated when it is read.
    """

    messages: ClassVar[dict[str, Promise]] = {}
    default_message: ClassVar[Promise] = _("Operazione non consentita.")

    def __init__(self, code: str, message: str | Promise | None = None, **params: object) -> None:
        self.code = code
        self.message = message if message is not None else self.messages.get(code)
        if self.message is None:
            self.message = self.default_message
        self.params = params
        super().__init__(code)

    @property
    def detail(self) -> str:
        text = str(self.message)
        if not self.params:
            return text
        # Amounts read as the reader writes them: "20.000,00" in Italian, not "20000.00".
        params = {
            key: number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
            if isinstance(value, Decimal)
            else value
            for key, value in self.params.items()
        }
        return text % params

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"
