"""Settlements: read-only, with their statement and the batch that pays them."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
)
from unfold.decorators import action, display

from core.admin.toolkit import (
    AgencyOnlyMixin,
    ConfirmForm,
    DayRangeFilter,
    LabelledTabularInline,
    LedgerReadOnlyMixin,
    action_form_page,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
)
from core.errors import DomainError
from core.money import ZERO
from core.roles import sees_everything
from merchants.admin.base import (
    MerchantScopedAdminMixin,
    RedemptionDisplayMixin,
)
from merchants.models import (
    Redemption,
    Settlement,
)
from merchants.selectors import merchants_to_settle
from merchants.services.settlements import merchant_payment_batch_prepare, settlements_run
from merchants.statements import settlement_statement_pdf


def may_settle(request) -> bool:
    """Settling shops is an agency matter."""
    return sees_everything(request.user) and request.user.has_perm("merchants.add_settlement")


def settle_now(model_admin, request, merchants=None) -> None:
    """Run ``settlements_run`` (for these shops, or all) and say what it settled."""
    settlements = settlements_run(prepared_by=request.user, merchants=merchants)
    if not settlements:
        model_admin.message_user(
            request, _("Nessun esercente ha utilizzi da liquidare."), messages.INFO
        )
        return
    total = sum((settlement.total for settlement in settlements), ZERO)
    model_admin.message_user(
        request,
        ngettext(
            "%(count)d liquidazione creata, per un totale di %(total)s.",
            "%(count)d liquidazioni create, per un totale di %(total)s.",
            len(settlements),
        )
        % {"count": len(settlements), "total": euro(total)},
        messages.SUCCESS,
    )


SETTLE_DESCRIPTION = _(
    "Per ogni esercente accreditato o sospeso si crea una liquidazione con gli utilizzi "
    "confermati e non ancora liquidati fino a ora, senza commissioni. Un esercente senza "
    "utilizzi nuovi resta com'è."
)


class SettlementRedemptionInline(RedemptionDisplayMixin, LabelledTabularInline):
    model = Redemption
    fk_name = "settlement"
    extra = 0
    can_delete = False
    per_page = 20
    show_change_link = True
    fields = ["receipt_display", "created_at", "voucher_hint", "holder", "amount_display"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("voucher__beneficiary")


@admin.register(Settlement)
class SettlementAdmin(AgencyOnlyMixin, MerchantScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    """Settlements are agency matters: only the agency sees them, settles and pays shops."""

    list_display = [
        "id",
        "merchant",
        "total_display",
        "redemptions_count",
        "created_at",
        "batch_link",
    ]
    list_filter = [("merchant", AutocompleteSelectFilter), ("created_at", DayRangeFilter)]
    list_filter_submit = True
    search_fields = ["merchant__name", "=merchant__vat_number"]
    list_select_related = ["merchant", "payment_line__batch"]
    fields = [
        "merchant",
        "total_display",
        "redemptions_count",
        "created_at",
        "created_by",
        "journal",
        "batch_link",
    ]
    readonly_fields = fields
    inlines = [SettlementRedemptionInline]
    actions = ["prepare_payment_batch"]
    actions_list = ["settle_all"]
    actions_detail = ["statement_pdf"]

    def scoped_queryset(self, request):
        return self.of_visible_merchants(request, Settlement.objects.all())

    def has_settle_permission(self, request, obj=None):
        return may_settle(request)

    def has_pay_permission(self, request, obj=None):
        return sees_everything(request.user) and request.user.has_perm("core.add_paymentbatch")

    @display(description=_("totale"), ordering="total")
    def total_display(self, obj):
        return euro(obj.total)

    @display(description=_("distinta"))
    def batch_link(self, obj):
        line = obj.payment_line
        if line is None:
            return "—"
        batch = line.batch
        return format_html(
            '<a href="{}" class="text-link">#{} · {}</a>',
            change_url(batch),
            batch.pk,
            batch.get_status_display(),
        )

    @action(
        description=_("Liquida ora"),
        url_path="liquida-ora",
        icon="account_balance_wallet",
        permissions=["settle"],
    )
    def settle_all(self, request):
        if is_confirmed(request):
            settle_now(self, request)
            return HttpResponseRedirect(changelist_url(Settlement))
        return action_form_page(
            request,
            self,
            title=_("Liquida ora tutti gli esercenti"),
            description=SETTLE_DESCRIPTION,
            form=ConfirmForm(),
            summary=[
                (
                    _("Esercenti con utilizzi da liquidare"),
                    merchants_to_settle(until=timezone.now()).count(),
                )
            ],
            submit_label=_("Liquida ora"),
            cancel_url=changelist_url(Settlement),
        )

    @action(description=_("Prepara distinta"), permissions=["pay"])
    def prepare_payment_batch(self, request, queryset):
        settlements = list(
            queryset.select_related("merchant", "payment_line__batch").order_by("pk")
        )
        if is_confirmed(request):
            try:
                batch = merchant_payment_batch_prepare(
                    settlements=settlements, prepared_by=request.user
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return None
            self.message_user(
                request,
                _(
                    "Distinta preparata: %(count)d bonifici per %(total)s. Deve autorizzarla "
                    "una persona diversa da chi l'ha preparata."
                )
                % {"count": batch.transfers_count, "total": euro(batch.total)},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(change_url(batch))
        total = sum((settlement.total for settlement in settlements), ZERO)
        return action_form_page(
            request,
            self,
            title=_("Prepara la distinta di pagamento"),
            description=_(
                "Un bonifico SEPA per ogni liquidazione, dell'importo esatto, all'IBAN "
                "dell'esercente. La distinta va poi autorizzata da un'altra persona."
            ),
            form=ConfirmForm(),
            summary=[(_("Liquidazioni"), len(settlements)), (_("Totale"), euro(total))],
            table={
                "headers": [_("N."), _("Esercente"), _("IBAN"), _("Totale"), _("Distinta")],
                "rows": [
                    [
                        settlement.pk,
                        settlement.merchant,
                        settlement.merchant.iban,
                        euro(settlement.total),
                        self.batch_link(settlement),
                    ]
                    for settlement in settlements
                ],
            },
            submit_label=_("Prepara distinta"),
            bulk_action="prepare_payment_batch",
            selected=[settlement.pk for settlement in settlements],
        )

    @action(
        description=_("Scarica estratto conto"),
        url_path="estratto-conto",
        icon="picture_as_pdf",
    )
    def statement_pdf(self, request, object_id):
        settlement = self.get_object(request, unquote(object_id))
        if settlement is None:
            raise Http404
        response = HttpResponse(
            settlement_statement_pdf(settlement), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="estratto-conto-liquidazione-{settlement.pk}.pdf"'
        )
        return response
