"""The import of the bank's camt.054 debit notification on the payment batches' list."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
)

from core.admin.toolkit import (
    action_form_page,
    changelist_url,
    euro,
    is_confirmed,
    staff_user,
)
from core.errors import DomainError
from core.models import (
    PaymentBatch,
)
from core.paginator import AdminMixinBase
from core.services.reconciliation import ReconciliationReport, payment_batch_reconcile_camt054

CAMT054_MAX_BYTES = 50 * 1024 * 1024


class Camt054Form(forms.Form):
    file = forms.FileField(
        label=_("Notifica di addebito (camt.054, XML)"),
        widget=UnfoldAdminFileFieldWidget,
        error_messages={"required": _("Scegli il file XML ricevuto dalla banca.")},
    )

    def clean_file(self) -> UploadedFile[Any]:
        upload: UploadedFile[Any] = self.cleaned_data["file"]
        if (upload.size or 0) > CAMT054_MAX_BYTES:
            raise ValidationError(_("Il file è troppo grande (al massimo 50 MB)."))
        return upload


class PaymentBatchReconcileMixin(AdminMixinBase):
    """The list's «Importa esito banca (camt.054)» action; mixed into the batches' admin."""

    @action(
        description=_("Importa esito banca (camt.054)"),
        url_path="importa-camt054",
        icon="upload_file",
        permissions=["reconcile"],
    )
    def import_camt054(self, request: HttpRequest) -> HttpResponse:
        form = Camt054Form(
            request.POST if is_confirmed(request) else None,
            request.FILES if is_confirmed(request) else None,
        )
        if form.is_valid():
            try:
                report = payment_batch_reconcile_camt054(
                    xml_bytes=form.cleaned_data["file"].read(), by=staff_user(request)
                )
            except DomainError as exc:
                form.add_error("file", exc.detail)
            else:
                self._report(request, report)
                return HttpResponseRedirect(changelist_url(PaymentBatch))
        return action_form_page(
            request,
            self,
            title=_("Importa l'esito della banca (camt.054)"),
            description=_(
                "I bonifici confermati dalla banca, con l'importo esatto, vengono segnati "
                "come pagati; una distinta è pagata quando lo sono tutti i suoi bonifici. "
                "Importare di nuovo lo stesso file non cambia nulla."
            ),
            form=form,
            submit_label=_("Importa"),
            cancel_url=changelist_url(PaymentBatch),
        )

    def _report(self, request: HttpRequest, report: ReconciliationReport) -> None:
        def listed(ids: list[str]) -> str:
            shown = ", ".join(ids[:20])
            return f"{shown}, …" if len(ids) > 20 else shown

        if report.paid:
            self.message_user(
                request,
                _("Bonifici segnati come pagati: %(count)d (%(ids)s).")
                % {"count": len(report.paid), "ids": listed(report.paid)},
                messages.SUCCESS,
            )
        if report.batches_paid:
            self.message_user(
                request,
                _("Distinte ora pagate: %(ids)s.") % {"ids": listed(report.batches_paid)},
                messages.SUCCESS,
            )
        if report.already_paid:
            self.message_user(
                request,
                _("Già pagati in precedenza: %(count)d.") % {"count": len(report.already_paid)},
                messages.INFO,
            )
        if report.unknown_ids:
            self.message_user(
                request,
                _("Identificativi sconosciuti: %(ids)s.") % {"ids": listed(report.unknown_ids)},
                messages.WARNING,
            )
        for mismatch in report.amount_mismatches[:20]:
            reported = (
                f"{mismatch.reported} {mismatch.currency}".strip()
                if mismatch.reported is not None
                else "—"
            )
            self.message_user(
                request,
                _("Importo diverso per %(ref)s: atteso %(expected)s, la banca indica %(reported)s.")
                % {
                    "ref": mismatch.reference,
                    "expected": euro(mismatch.expected),
                    "reported": reported,
                },
                messages.ERROR,
            )
        if len(report.amount_mismatches) > 20:
            self.message_user(
                request,
                _("Altri %(count)d importi diversi.")
                % {"count": len(report.amount_mismatches) - 20},
                messages.ERROR,
            )
        if report.not_booked:
            self.message_user(
                request,
                _("Addebiti non ancora contabilizzati dalla banca: %(ids)s.")
                % {"ids": listed(report.not_booked)},
                messages.WARNING,
            )
        if report.not_exported:
            self.message_user(
                request,
                _("Bonifici di distinte non esportate o annullate, non segnati: %(ids)s.")
                % {"ids": listed(report.not_exported)},
                messages.WARNING,
            )
        if not (
            report.paid
            or report.already_paid
            or report.unknown_ids
            or report.amount_mismatches
            or report.not_booked
            or report.not_exported
        ):
            self.message_user(request, _("Il file non contiene addebiti."), messages.WARNING)
