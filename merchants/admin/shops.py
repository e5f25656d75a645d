"""Shops: accreditation, cashiers, till keys and settling now."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin.toolkit import (
    ConfirmForm,
    LabelledTabularInline,
    OptionalReasonForm,
    ReasonForm,
    action_form_page,
    bound_if_confirmed,
    change_url,
    euro,
    is_confirmed,
    status_badge,
)
from merchants.admin.base import (
    MERCHANT_STATUS_VARIANTS,
    MerchantScopedAdminMixin,
    visible_merchants,
)
from merchants.admin.settlements import SETTLE_DESCRIPTION, may_settle, settle_now
from merchants.models import (
    DeviceKey,
    Merchant,
    MerchantStaff,
)
from merchants.selectors import merchant_payable
from merchants.services.accreditation import merchant_set_status
from merchants.services.devices import device_key_create
from vouchers.admin.scoping import (
    ScopedRelatedDropdownFilter,
)


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
