"""Admin of payment batches (distinte): read-only; each button calls one payment service.

The import of the bank's camt.054 notification is in ``core.admin.reconciliation``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from core.admin.reconciliation import PaymentBatchReconcileMixin
from core.admin.toolkit import (
    AgencyOnlyMixin,
    ConfirmForm,
    LabelledTabularInline,
    LedgerReadOnlyMixin,
    ReasonForm,
    action_form_page,
    bound_if_confirmed,
    change_url,
    euro,
    staff_user,
    status_badge,
)
from core.errors import DomainError
from core.models import (
    PaymentBatch,
    PaymentLine,
)
from core.services.payments import (
    payment_batch_cancel,
    payment_batch_export,
    payment_batch_mark_paid,
    payment_batch_release,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PAYMENT_BATCH_STATUS_VARIANTS = {
    PaymentBatch.Status.PREPARED: "info",
    PaymentBatch.Status.RELEASED: "primary",
    PaymentBatch.Status.EXPORTED: "warning",
    PaymentBatch.Status.PAID: "success",
    PaymentBatch.Status.CANCELLED: "danger",
}


class PaymentLineInline(LabelledTabularInline):
    model = PaymentLine
    extra = 0
    can_delete = False
    per_page = 50
    fields = [
        "creditor_name",
        "creditor_iban",
        "amount_display",
        "end_to_end_id",
        "remittance",
        "paid_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: PaymentLine | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PaymentLine | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PaymentLine | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).order_by("id")

    @display(description=_("importo"))
    def amount_display(self, obj: PaymentLine) -> str:
        return euro(obj.amount)


@admin.register(PaymentBatch)
class PaymentBatchAdmin(
    PaymentBatchReconcileMixin, AgencyOnlyMixin, LedgerReadOnlyMixin, ModelAdmin
):
    """Distinte: read-only; each button calls one service of ``core.services.payments``."""

    list_display = [
        "id",
        "kind",
        "status_display",
        "transfers_count",
        "total_display",
        "prepared_by",
        "released_by",
        "prepared_at",
        "requested_execution_date",
        "paid_at",
    ]
    list_filter = [("kind", ChoicesDropdownFilter), ("status", ChoicesDropdownFilter)]
    search_fields = ["=message_id", "=id"]
    list_select_related = ["prepared_by", "released_by"]
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "kind",
                    "status_detail",
                    "message_id",
                    "requested_execution_date",
                    "transfers_count",
                    "total_display",
                ]
            },
        ),
        (
            _("Ordinante"),
            {"fields": ["debtor_name", "debtor_iban", "debtor_bic", "debtor_address"]},
        ),
        (
            _("Passaggi"),
            {
                "fields": [
                    ("prepared_by", "prepared_at"),
                    ("released_by", "released_at"),
                    ("exported_by", "exported_at"),
                    ("paid_by", "paid_at"),
                    ("cancelled_by", "cancelled_at"),
                    "cancel_reason",
                ]
            },
        ),
    ]
    readonly_fields = [
        "kind",
        "status_detail",
        "message_id",
        "requested_execution_date",
        "transfers_count",
        "total_display",
        "debtor_name",
        "debtor_iban",
        "debtor_bic",
        "debtor_address",
        "prepared_by",
        "prepared_at",
        "released_by",
        "released_at",
        "exported_by",
        "exported_at",
        "paid_by",
        "paid_at",
        "cancelled_by",
        "cancelled_at",
        "cancel_reason",
    ]
    inlines = [PaymentLineInline]
    actions_list = ["import_camt054"]
    actions_detail = ["release_detail", "export_detail", "mark_paid_detail", "cancel_detail"]

    # Who may do what: the agency with the right to change batches, on a batch whose
    # status allows it (the button is not even shown otherwise).

    ALLOWED_FROM = {
        "release": {PaymentBatch.Status.PREPARED},
        "export": {PaymentBatch.Status.RELEASED, PaymentBatch.Status.EXPORTED},
        "mark_paid": {PaymentBatch.Status.EXPORTED},
        "cancel": {
            PaymentBatch.Status.PREPARED,
            PaymentBatch.Status.RELEASED,
            PaymentBatch.Status.EXPORTED,
        },
    }

    def _may_handle(self, request: HttpRequest) -> bool:
        return self.sees_everything(request) and request.user.has_perm("core.change_paymentbatch")

    def _status_of(self, request: HttpRequest, object_id: str) -> str | None:
        cache = request.__dict__.setdefault("_payment_batch_status", {})
        if object_id not in cache:
            cache[object_id] = (
                self.get_queryset(request)
                .filter(pk=unquote(str(object_id)))
                .values_list("status", flat=True)
                .first()
            )
        return cache[object_id]

    def _may(self, step: str, request: HttpRequest, object_id: str | None) -> bool:
        if not self._may_handle(request):
            return False
        return object_id is None or self._status_of(request, object_id) in self.ALLOWED_FROM[step]

    def has_release_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return self._may("release", request, object_id)

    def has_export_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return self._may("export", request, object_id)

    def has_mark_paid_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return self._may("mark_paid", request, object_id)

    def has_cancel_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return self._may("cancel", request, object_id)

    def has_reconcile_permission(
        self, request: HttpRequest, obj: PaymentBatch | None = None
    ) -> bool:
        return self._may_handle(request)

    # Displays.

    @display(description=_("stato"), label=PAYMENT_BATCH_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj: PaymentBatch) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=_("stato"))
    def status_detail(self, obj: PaymentBatch) -> str:
        return status_badge(
            obj.get_status_display(), PAYMENT_BATCH_STATUS_VARIANTS[PaymentBatch.Status(obj.status)]
        )

    @display(description=_("totale"), ordering="total")
    def total_display(self, obj: PaymentBatch) -> str:
        return euro(obj.total)

    @display(description=_("indirizzo dell'ordinante"))
    def debtor_address(self, obj: PaymentBatch) -> str:
        street = " ".join(part for part in [obj.debtor_street, obj.debtor_building_number] if part)
        town = " ".join(part for part in [obj.debtor_postcode, obj.debtor_town] if part)
        return ", ".join(part for part in [street, town, obj.debtor_country] if part) or "—"

    # The buttons of a batch.

    def _batch(self, request: HttpRequest, object_id: str) -> PaymentBatch:
        batch = self.get_object(request, unquote(object_id))
        if batch is None:
            raise Http404
        return batch

    def _summary(self, batch: PaymentBatch) -> list[tuple[Any, Any]]:
        return [
            (_("Distinta"), batch.message_id),
            (_("Tipo"), batch.get_kind_display()),
            (_("Stato"), batch.get_status_display()),
            (_("Bonifici"), batch.transfers_count),
            (_("Totale"), euro(batch.total)),
            (_("Data di esecuzione richiesta"), batch.requested_execution_date),
            (_("Preparata da"), batch.prepared_by),
        ]

    def _step(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        title: StrOrPromise,
        submit_label: StrOrPromise,
        run: Callable[[PaymentBatch, dict[str, Any]], HttpResponse | None],
        form_class: type[forms.Form] = ConfirmForm,
        description: StrOrPromise = "",
        danger: bool = False,
        success: StrOrPromise = "",
    ) -> HttpResponse:
        batch = self._batch(request, object_id)
        form = bound_if_confirmed(form_class, request)
        if form.is_valid():
            try:
                response = run(batch, form.cleaned_data)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return HttpResponseRedirect(change_url(batch))
            if response is not None:
                return response
            self.message_user(request, success, messages.SUCCESS)
            return HttpResponseRedirect(change_url(batch))
        return action_form_page(
            request,
            self,
            title=title,
            description=description,
            form=form,
            summary=self._summary(batch),
            submit_label=submit_label,
            obj=batch,
            danger=danger,
        )

    @action(
        description=_("Autorizza"),
        url_path="autorizza",
        icon="verified_user",
        variant=ActionVariant.PRIMARY,
        permissions=["release"],
    )
    def release_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def run(batch: PaymentBatch, _data: dict[str, Any]) -> None:
            payment_batch_release(batch=batch, released_by=staff_user(request))

        return self._step(
            request,
            object_id,
            title=_("Autorizza la distinta"),
            description=_(
                "Chi autorizza deve essere una persona diversa da chi ha preparato la "
                "distinta (quattro occhi). Dopo l'autorizzazione si può scaricare il file SEPA."
            ),
            submit_label=_("Autorizza"),
            run=run,
            success=_("Distinta autorizzata: ora si può scaricare il file SEPA."),
        )

    @action(
        description=_("Scarica file SEPA"),
        url_path="scarica-sepa",
        icon="download",
        permissions=["export"],
    )
    def export_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def run(batch: PaymentBatch, _data: dict[str, Any]) -> HttpResponse:
            out = io.BytesIO()
            payment_batch_export(batch=batch, out=out, exported_by=staff_user(request))
            response = HttpResponse(out.getvalue(), content_type="application/xml")
            response["Content-Disposition"] = (
                f'attachment; filename="distinta-{batch.message_id}.xml"'
            )
            return response

        return self._step(
            request,
            object_id,
            title=_("Scarica il file SEPA (pain.001)"),
            description=_(
                "Il file va caricato nell'home banking dell'agenzia. Scaricarlo di nuovo "
                "produce lo stesso identico file: la banca non paga due volte."
            ),
            submit_label=_("Scarica"),
            run=run,
        )

    @action(
        description=_("Segna come pagata"),
        url_path="segna-pagata",
        icon="paid",
        permissions=["mark_paid"],
    )
    def mark_paid_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def run(batch: PaymentBatch, _data: dict[str, Any]) -> None:
            payment_batch_mark_paid(batch=batch, by=staff_user(request))

        return self._step(
            request,
            object_id,
            title=_("Segna la distinta come pagata"),
            description=_(
                "Solo quando la banca ha eseguito i bonifici: ogni bonifico non ancora "
                "confermato viene registrato come pagato."
            ),
            submit_label=_("Segna come pagata"),
            run=run,
            success=_("Distinta segnata come pagata."),
        )

    @action(
        description=_("Annulla"),
        url_path="annulla",
        icon="cancel",
        variant=ActionVariant.DANGER,
        permissions=["cancel"],
    )
    def cancel_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def run(batch: PaymentBatch, data: dict[str, Any]) -> None:
            payment_batch_cancel(batch=batch, by=staff_user(request), reason=data["reason"])

        return self._step(
            request,
            object_id,
            title=_("Annulla la distinta"),
            description=_(
                "Le somme restano da pagare e potranno entrare in una nuova distinta. "
                "Non si annulla una distinta che la banca ha già pagato, anche in parte."
            ),
            form_class=ReasonForm,
            submit_label=_("Annulla la distinta"),
            run=run,
            danger=True,
            success=_("Distinta annullata."),
        )
