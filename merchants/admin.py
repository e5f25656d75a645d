"""Admin of shops: accreditation, cashiers, device keys, redemptions and settlements.

Redemptions, settlements and refused attempts are ledger-backed or audit rows: read-only.
Accrediting, suspending and rejecting a shop, and creating or revoking a till's key, go
through ``merchants.services``. This module also adds the shop side to the voucher and call
pages of ``vouchers.admin`` (their redemptions), since vouchers must not know about shops.
"""

import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.fields import Field
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    DropdownFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin import (
    AgencyOnlyMixin,
    ConfirmForm,
    DayRangeFilter,
    LabelledTabularInline,
    LedgerReadOnlyMixin,
    OptionalReasonForm,
    ReasonForm,
    action_form_page,
    bound_if_confirmed,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
    search_words,
    status_badge,
)
from core.errors import DomainError
from core.money import CENT, ZERO
from core.paginator import CappedCountPaginator
from core.roles import sees_everything
from merchants.errors import RedemptionError
from merchants.models import (
    DeviceKey,
    Merchant,
    MerchantStaff,
    Redemption,
    RefusedAttempt,
    Settlement,
)
from merchants.selectors import merchant_payable, merchants_to_settle
from merchants.services.accreditation import merchant_set_status
from merchants.services.devices import device_key_create, device_key_revoke
from merchants.services.settlements import merchant_payment_batch_prepare, settlements_run
from merchants.statements import settlement_statement_pdf
from vouchers import admin as vouchers_admin
from vouchers.admin.exports import ExportAdminMixin, ListResource
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    request_scope,
    visible_vouchers,
)
from vouchers.models import Beneficiary, Initiative, Voucher

MERCHANT_STATUS_VARIANTS = {
    Merchant.Status.REQUESTED: "info",
    Merchant.Status.ACCREDITED: "success",
    Merchant.Status.SUSPENDED: "warning",
    Merchant.Status.REJECTED: "danger",
}
REDEMPTION_STATUS_VARIANTS = {
    Redemption.Status.CONFIRMED: "success",
    Redemption.Status.VOIDED: "danger",
}
RECEIPT_NUMBER = re.compile(r"^\d{4}-(\d{1,8})$")
FISCAL_CODE_SHAPE = re.compile(r"^[A-Za-z0-9]{16}$")


def reason_label(code: str) -> str:
    """The sentence a refused attempt's reason code stands for, without its placeholders."""
    message = RedemptionError.messages.get(code)
    if message is None:
        return code
    return re.sub(r"%\(\w+\)s", "…", str(message))


# --- what each user sees ----------------------------------------------------------------


def visible_merchants(request):
    """Shops the user may see: all for the agency, else those serving his municipalities."""
    scope = request_scope(request)
    if scope.everything:
        return Merchant.objects.all()
    return Merchant.objects.filter(
        pk__in=Merchant.municipalities.through.objects.filter(
            organization_id__in=scope.municipality_ids
        ).values("merchant_id")
    )


class MerchantScopedAdminMixin(ScopedAdminMixin):
    """Scoping for the shops' admins: rows of the shops the user sees."""

    def of_visible_merchants(self, request, rows):
        if request_scope(request).everything:
            return rows  # including rows without a shop (a refused unknown device)
        return rows.filter(merchant__in=visible_merchants(request))

    def related_choices(self, request, model):
        if model is Merchant:
            return visible_merchants(request)
        return super().related_choices(request, model)


class RedemptionResource(ListResource):
    receipt = Field(column_name=_("ricevuta"))
    created_at = Field(column_name=_("eseguito il"))
    merchant = Field(column_name=_("esercente"))
    vat_number = Field(column_name=_("partita IVA"))
    voucher = Field(column_name=_("buono (ultime cifre)"))
    holder = Field(column_name=_("intestatario"))
    initiative = Field(column_name=_("bando"))
    amount = Field(column_name=_("importo"))
    balance_after = Field(column_name=_("saldo dopo"))
    status = Field(column_name=_("stato"))
    settlement = Field(column_name=_("liquidazione"))

    def dehydrate_receipt(self, obj):
        return obj.receipt_number

    def dehydrate_created_at(self, obj):
        return timezone.localtime(obj.created_at).strftime("%d/%m/%Y %H:%M")

    def dehydrate_merchant(self, obj):
        return obj.merchant.name

    def dehydrate_vat_number(self, obj):
        return obj.merchant.vat_number

    def dehydrate_voucher(self, obj):
        return obj.voucher.code_hint

    def dehydrate_holder(self, obj):
        return obj.voucher.beneficiary.full_name

    def dehydrate_initiative(self, obj):
        return obj.voucher.initiative.title

    def dehydrate_amount(self, obj):
        return obj.amount

    def dehydrate_balance_after(self, obj):
        return obj.balance_after

    def dehydrate_status(self, obj):
        return obj.get_status_display()

    def dehydrate_settlement(self, obj):
        return obj.settlement_id or ""


# --- shops -------------------------------------------------------------------------------


class MerchantStaffInline(LabelledTabularInline):
    model = MerchantStaff
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role"]


class DeviceKeyInline(LabelledTabularInline):
    model = DeviceKey
    extra = 0
    can_delete = False
    show_change_link = True
    per_page = 20
    fields = ["name", "prefix", "active_display", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    verbose_name_plural = _("chiavi dei dispositivi (si creano col pulsante in alto)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("attiva"), boolean=True)
    def active_display(self, obj):
        return obj.is_active


class DeviceKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Nome del dispositivo"),
        max_length=100,
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Per esempio «Cassa 1» o «Tablet del banco»: serve a riconoscerla dopo."),
        error_messages={"required": _("Dai un nome al dispositivo.")},
    )


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


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    list_display = [
        "name",
        "legal_name",
        "vat_number",
        "town",
        "status_display",
        "categories_display",
        "created_at",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("categories", RelatedDropdownFilter),
        ("municipalities", ScopedRelatedDropdownFilter),
    ]
    search_fields = ["name", "legal_name", "=vat_number", "town"]
    filter_horizontal = ["categories", "municipalities"]
    fieldsets = [
        (None, {"fields": ["name", "legal_name", "vat_number", "iban"]}),
        (_("Indirizzo e contatti"), {"fields": ["street", ("postal_code", "town", "province")]}),
        (None, {"fields": ["email", "phone"]}),
        (_("Circuito"), {"fields": ["categories", "municipalities"]}),
        (_("Liquidazioni"), {"fields": [("settlement_frequency", "settlement_weekday")]}),
        (
            _("Stato e conti"),
            {"fields": ["status_detail", "status_reason", "payable_detail", "created_at"]},
        ),
    ]
    readonly_fields = ["status_detail", "status_reason", "payable_detail", "created_at"]
    inlines = [MerchantStaffInline, DeviceKeyInline]
    actions = ["accredit_merchants", "suspend_merchants", "reject_merchants", "settle_merchants"]
    actions_detail = [
        "create_device_key",
        {
            "title": _("Stato"),
            "icon": "rule",
            "items": ["accredit_detail", "suspend_detail", "reject_detail"],
        },
    ]

    def scoped_queryset(self, request):
        return visible_merchants(request)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("categories")

    def has_accredit_permission(self, request, obj=None):
        return request.user.has_perm("merchants.change_merchant")

    def has_device_key_permission(self, request, obj=None):
        return request.user.has_perm("merchants.add_devicekey")

    def has_settle_permission(self, request, obj=None):
        return may_settle(request)

    @action(description=_("Liquida ora"), permissions=["settle"])
    def settle_merchants(self, request, queryset):
        merchants = list(queryset.order_by("name", "pk"))
        if is_confirmed(request):
            settle_now(self, request, merchants)
            return None
        return action_form_page(
            request,
            self,
            title=_("Liquida ora gli esercenti selezionati"),
            description=SETTLE_DESCRIPTION,
            form=ConfirmForm(),
            table={
                "headers": [_("Insegna"), _("Partita IVA"), _("Località"), _("Stato")],
                "rows": [[m.name, m.vat_number, m.town, m.get_status_display()] for m in merchants],
            },
            submit_label=_("Liquida ora"),
            bulk_action="settle_merchants",
            selected=[m.pk for m in merchants],
        )

    @display(description=_("stato"), label=MERCHANT_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("categorie"))
    def categories_display(self, obj):
        return ", ".join(category.name for category in obj.categories.all())

    @display(description=_("stato"))
    def status_detail(self, obj):
        if obj.pk is None:
            return status_badge(
                Merchant.Status.REQUESTED.label, MERCHANT_STATUS_VARIANTS["requested"]
            )
        return status_badge(obj.get_status_display(), MERCHANT_STATUS_VARIANTS[obj.status])

    @display(description=_("da liquidare"))
    def payable_detail(self, obj):
        if obj.pk is None:
            return "—"
        return euro(merchant_payable(merchant_id=obj.pk))

    # Accreditation. Each status has a bulk action (from the list) and a button on the
    # shop's page; both ask for the reason first, which suspending and rejecting require.

    STATUS_TEXTS = {
        Merchant.Status.ACCREDITED: (_("Accredita"), OptionalReasonForm),
        Merchant.Status.SUSPENDED: (_("Sospendi"), ReasonForm),
        Merchant.Status.REJECTED: (_("Respingi"), ReasonForm),
    }

    def _set_status(self, request, merchants, status: str, reason: str) -> None:
        for merchant in merchants:
            merchant_set_status(merchant=merchant, status=status, reason=reason)
        label = Merchant.Status(status).label
        self.message_user(
            request,
            ngettext(
                "%(count)d esercente ora è «%(status)s».",
                "%(count)d esercenti ora sono «%(status)s».",
                len(merchants),
            )
            % {"count": len(merchants), "status": label},
            messages.SUCCESS,
        )

    def _status_page(self, request, merchants, status: str, *, obj=None, bulk_action=""):
        verb, form_class = self.STATUS_TEXTS[status]
        form = bound_if_confirmed(form_class, request)
        if form.is_valid():
            self._set_status(request, merchants, status, form.cleaned_data["reason"])
            return HttpResponseRedirect(change_url(obj)) if obj is not None else None
        return action_form_page(
            request,
            self,
            title=_("%(verb)s: nuovo stato «%(status)s»")
            % {"verb": verb, "status": Merchant.Status(status).label},
            form=form,
            table={
                "headers": [_("Insegna"), _("Partita IVA"), _("Località"), _("Stato attuale")],
                "rows": [
                    [
                        merchant.name,
                        merchant.vat_number,
                        merchant.town,
                        status_badge(
                            merchant.get_status_display(), MERCHANT_STATUS_VARIANTS[merchant.status]
                        ),
                    ]
                    for merchant in merchants
                ],
            },
            submit_label=verb,
            obj=obj,
            bulk_action=bulk_action,
            selected=[merchant.pk for merchant in merchants] if bulk_action else None,
            danger=status != Merchant.Status.ACCREDITED,
        )

    def _bulk_status(self, request, queryset, status: str, bulk_action: str):
        merchants = list(queryset.order_by("name", "pk"))
        return self._status_page(request, merchants, status, bulk_action=bulk_action)

    def _detail_status(self, request, object_id, status: str):
        merchant = self.get_object(request, unquote(object_id))
        if merchant is None:
            raise Http404
        return self._status_page(request, [merchant], status, obj=merchant)

    @action(description=_("Accredita"), permissions=["accredit"])
    def accredit_merchants(self, request, queryset):
        return self._bulk_status(
            request, queryset, Merchant.Status.ACCREDITED, "accredit_merchants"
        )

    @action(description=_("Sospendi"), permissions=["accredit"])
    def suspend_merchants(self, request, queryset):
        return self._bulk_status(request, queryset, Merchant.Status.SUSPENDED, "suspend_merchants")

    @action(description=_("Respingi"), permissions=["accredit"])
    def reject_merchants(self, request, queryset):
        return self._bulk_status(request, queryset, Merchant.Status.REJECTED, "reject_merchants")

    @action(
        description=_("Accredita"),
        url_path="accredita",
        icon="verified",
        permissions=["accredit"],
    )
    def accredit_detail(self, request, object_id):
        return self._detail_status(request, object_id, Merchant.Status.ACCREDITED)

    @action(
        description=_("Sospendi"),
        url_path="sospendi",
        icon="pause_circle",
        permissions=["accredit"],
    )
    def suspend_detail(self, request, object_id):
        return self._detail_status(request, object_id, Merchant.Status.SUSPENDED)

    @action(
        description=_("Respingi"),
        url_path="respingi",
        icon="cancel",
        permissions=["accredit"],
    )
    def reject_detail(self, request, object_id):
        return self._detail_status(request, object_id, Merchant.Status.REJECTED)

    # Device keys.

    @action(
        description=_("Crea chiave dispositivo"),
        url_path="crea-chiave",
        icon="key",
        variant=ActionVariant.PRIMARY,
        permissions=["device_key"],
    )
    def create_device_key(self, request, object_id):
        merchant = self.get_object(request, unquote(object_id))
        if merchant is None:
            raise Http404
        form = bound_if_confirmed(DeviceKeyForm, request)
        if not form.is_valid():
            return action_form_page(
                request,
                self,
                title=_("Nuova chiave di dispositivo"),
                description=_(
                    "La chiave permette a una cassa di verificare e incassare i buoni a nome "
                    "di questo negozio. Sarà mostrata una sola volta."
                ),
                form=form,
                submit_label=_("Crea la chiave"),
                obj=merchant,
            )
        device, raw_key = device_key_create(
            merchant=merchant, name=form.cleaned_data["name"], created_by=request.user
        )
        response = TemplateResponse(
            request,
            "admin/buonocomune/device_key_created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": merchant,
                "title": _("Chiave creata"),
                "merchant": merchant,
                "device": device,
                "raw_key": raw_key,
                "back_url": change_url(merchant),
            },
        )
        # The key is in this answer only: no browser or proxy may keep a copy.
        response["Cache-Control"] = "no-store"
        return response


class ActiveKeyFilter(DropdownFilter):
    title = _("stato della chiave")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Attiva")), ("no", _("Revocata"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(DeviceKey)
class DeviceKeyAdmin(MerchantScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "name",
        "merchant",
        "prefix",
        "active_display",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    list_filter = [ActiveKeyFilter, ("merchant", AutocompleteSelectFilter)]
    search_fields = ["name", "prefix", "merchant__name"]
    list_select_related = ["merchant", "created_by", "revoked_by"]
    fields = [
        "merchant",
        "name",
        "prefix",
        "active_display",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke_keys"]
    actions_detail = ["revoke_detail"]

    def scoped_queryset(self, request):
        return self.of_visible_merchants(request, DeviceKey.objects.all())

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("merchants.change_devicekey")

    @display(description=_("attiva"), boolean=True)
    def active_display(self, obj):
        return obj.is_active

    def _revoke(self, request, keys) -> None:
        for device_key in keys:
            device_key_revoke(device_key=device_key, revoked_by=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d chiave revocata: quel dispositivo non può più incassare.",
                "%(count)d chiavi revocate: quei dispositivi non possono più incassare.",
                len(keys),
            )
            % {"count": len(keys)},
            messages.SUCCESS,
        )

    def _keys_table(self, keys) -> dict:
        return {
            "headers": [_("Dispositivo"), _("Esercente"), _("Prefisso"), _("Ultimo uso")],
            "rows": [
                [key.name, key.merchant, f"{key.prefix}…", key.last_used_at or "—"] for key in keys
            ],
        }

    @action(description=_("Revoca le chiavi selezionate"), permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        keys = list(queryset.select_related("merchant").order_by("pk"))
        if is_confirmed(request):
            self._revoke(request, keys)
            return None
        return action_form_page(
            request,
            self,
            title=_("Revoca delle chiavi"),
            description=_("Un dispositivo con la chiave revocata non può più incassare buoni."),
            form=ConfirmForm(),
            table=self._keys_table(keys),
            submit_label=_("Revoca"),
            bulk_action="revoke_keys",
            selected=[key.pk for key in keys],
            danger=True,
        )

    @action(
        description=_("Revoca la chiave"),
        url_path="revoca",
        icon="key_off",
        variant=ActionVariant.DANGER,
        permissions=["revoke"],
    )
    def revoke_detail(self, request, object_id):
        device_key = self.get_object(request, unquote(object_id))
        if device_key is None:
            raise Http404
        if is_confirmed(request):
            self._revoke(request, [device_key])
            return HttpResponseRedirect(change_url(device_key))
        return action_form_page(
            request,
            self,
            title=_("Revoca della chiave"),
            description=_("Un dispositivo con la chiave revocata non può più incassare buoni."),
            form=ConfirmForm(),
            table=self._keys_table([device_key]),
            submit_label=_("Revoca"),
            obj=device_key,
            danger=True,
        )


# --- redemptions and settlements ---------------------------------------------------------


class SettledFilter(DropdownFilter):
    title = _("liquidato")
    parameter_name = "settled"

    def lookups(self, request, model_admin):
        return [("yes", _("Sì")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(settlement__isnull=False)
        if self.value() == "no":
            return queryset.filter(settlement__isnull=True)
        return queryset


class RedemptionDisplayMixin:
    @display(description=_("ricevuta"), ordering="pk")
    def receipt_display(self, obj):
        return obj.receipt_number

    @display(description=_("buono"))
    def voucher_hint(self, obj):
        return obj.voucher.code_hint

    @display(description=_("buono"))
    def voucher_detail(self, obj):
        return vouchers_admin.voucher_link(obj.voucher)

    @display(description=_("intestatario"))
    def holder(self, obj):
        return obj.voucher.beneficiary

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("saldo dopo"))
    def balance_after_display(self, obj):
        return euro(obj.balance_after)

    @display(description=_("stato"), label=REDEMPTION_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("stato"))
    def status_badge(self, obj):
        """The status as a badge where unfold does not draw labels (details, inlines)."""
        return status_badge(obj.get_status_display(), REDEMPTION_STATUS_VARIANTS[obj.status])


@admin.register(Redemption)
class RedemptionAdmin(
    MerchantScopedAdminMixin,
    RedemptionDisplayMixin,
    LedgerReadOnlyMixin,
    ModelAdmin,
    ExportAdminMixin,
):
    list_display = [
        "receipt_display",
        "created_at",
        "merchant",
        "voucher_hint",
        "holder",
        "amount_display",
        "balance_after_display",
        "status_display",
        "settlement_link",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("merchant", AutocompleteSelectFilter),
        ("created_at", DayRangeFilter),
        ("voucher__initiative", ScopedRelatedDropdownFilter),
        SettledFilter,
    ]
    list_filter_submit = True
    search_fields = [
        "merchant__name",
        "voucher__beneficiary__last_name",
        "=voucher__beneficiary__fiscal_code",
    ]
    search_help_text = _(
        "Negozio, cognome o codice fiscale dell'intestatario, oppure numero di ricevuta."
    )
    list_select_related = ["merchant", "voucher__beneficiary"]
    fields = [
        "receipt_display",
        "created_at",
        "status_badge",
        "voucher_detail",
        "holder",
        "merchant",
        "amount",
        "balance_after",
        "cashier",
        "device",
        "voided_at",
        "voided_by",
        "settlement",
        "journal",
    ]
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator
    resource_classes = [RedemptionResource]

    def scoped_queryset(self, request):
        # The redemptions of the vouchers of the people the user sees.
        if request_scope(request).everything:
            return Redemption.objects.all()
        return Redemption.objects.filter(voucher__in=visible_vouchers(request))

    def get_search_results(self, request, queryset, search_term):
        """Find redemptions by receipt number, shop, or the holder's surname or fiscal code.

        Each word is looked up on the small tables first (the shops; the holders through the
        fiscal code's unique index, or by surname) and the redemptions are then filtered by
        those ids: an OR across the joined tables would join every redemption with its
        voucher and holder, once for the count and again for the page.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        match = RECEIPT_NUMBER.match(term)
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        for word in search_words(term):
            shops = list(Merchant.objects.filter(name__icontains=word).values_list("pk", flat=True))
            if FISCAL_CODE_SHAPE.match(word):
                holders = Beneficiary.objects.filter(
                    Q(fiscal_code=word.upper()) | Q(last_name__icontains=word)
                )
            else:
                holders = Beneficiary.objects.filter(last_name__icontains=word)
            queryset = queryset.filter(
                Q(merchant_id__in=shops)
                | Q(voucher_id__in=Voucher.objects.filter(beneficiary__in=holders).values("pk"))
            )
        return queryset, False

    @display(description=_("liquidazione"), ordering="settlement_id")
    def settlement_link(self, obj):
        if obj.settlement_id is None:
            return "—"
        url = reverse("admin:merchants_settlement_change", args=[obj.settlement_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.settlement_id)


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


class ReasonFilter(DropdownFilter):
    title = _("motivo")
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(code, reason_label(code)) for code in RedemptionError.messages]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(reason=self.value())
        return queryset


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(MerchantScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "reason_display",
        "merchant",
        "device",
        "user",
        "code_hint",
        "amount_display",
        "ip_address",
    ]
    list_fullwidth = True
    list_filter = [
        ReasonFilter,
        ("action", ChoicesDropdownFilter),
        ("merchant", AutocompleteSelectFilter),
        ("created_at", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = ["code_hint", "merchant__name", "ip_address"]
    list_select_related = ["merchant", "device", "user"]
    fields = [
        "created_at",
        "action",
        "reason_display",
        "merchant",
        "device",
        "user",
        "voucher_detail",
        "code_hint",
        "amount",
        "ip_address",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def scoped_queryset(self, request):
        return self.of_visible_merchants(request, RefusedAttempt.objects.all())

    @display(description=_("motivo"), ordering="reason")
    def reason_display(self, obj):
        return format_html(
            '{} <span class="text-subtle text-xs">{}</span>', reason_label(obj.reason), obj.reason
        )

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("buono"))
    def voucher_detail(self, obj):
        return vouchers_admin.voucher_link(obj.voucher) if obj.voucher_id else "—"


# --- the shop side of vouchers and calls -------------------------------------------------


class VoucherRedemptionInline(RedemptionDisplayMixin, LabelledTabularInline):
    model = Redemption
    fk_name = "voucher"
    extra = 0
    can_delete = False
    per_page = 20
    show_change_link = True
    fields = [
        "receipt_display",
        "created_at",
        "merchant",
        "amount_display",
        "balance_after_display",
        "status_badge",
        "cashier",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant", "cashier")


admin.site.unregister(Voucher)


@admin.register(Voucher)
class VoucherAdmin(vouchers_admin.VoucherAdmin):
    inlines = [*vouchers_admin.VoucherAdmin.inlines, VoucherRedemptionInline]


def call_redemption_figures(*, refresh: bool = False) -> dict[int, dict]:
    """Vouchers used and money spent per call, for the calls list (kept a few minutes)."""
    figures = None if refresh else cache.get("admin:calls:redemptions")
    if figures is None:
        figures = {
            row["voucher__initiative_id"]: {
                "used": row["used"],
                # SQLite adds decimals as floats: back to cents.
                "spent": Decimal(str(row["spent"] or 0)).quantize(CENT),
            }
            for row in Redemption.objects.filter(status=Redemption.Status.CONFIRMED)
            .order_by()
            .values("voucher__initiative_id")
            .annotate(used=Count("voucher", distinct=True), spent=Sum("amount"))
        }
        cache.set("admin:calls:redemptions", figures, vouchers_admin.CALL_FIGURES_SECONDS)
    return figures


admin.site.unregister(Initiative)


@admin.register(Initiative)
class InitiativeAdmin(vouchers_admin.InitiativeAdmin):
    list_display = [
        *vouchers_admin.InitiativeAdmin.list_display[:6],
        "redeemed_count",
        "spent_display",
        *vouchers_admin.InitiativeAdmin.list_display[6:],
    ]

    @display(description=_("buoni usati"))
    def redeemed_count(self, obj):
        return call_redemption_figures().get(obj.pk, {}).get("used", 0)

    @display(description=_("speso nei negozi"))
    def spent_display(self, obj):
        return euro(call_redemption_figures().get(obj.pk, {}).get("spent", ZERO))
