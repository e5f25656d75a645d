"""The tills' API keys: listed, revoked (created from the shop's page)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    DropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from core.admin.toolkit import (
    ConfirmForm,
    LedgerReadOnlyMixin,
    action_form_page,
    change_url,
    is_confirmed,
)
from merchants.admin.base import (
    MerchantScopedAdminMixin,
)
from merchants.models import (
    DeviceKey,
)
from merchants.services.devices import device_key_revoke


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
