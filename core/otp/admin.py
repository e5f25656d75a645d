"""Read-only admin pages of the authenticators and backup codes, with the reset action."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from core.admin.toolkit import staff_user
from core.otp.services import (
    otp_reset,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class TwoFactorDeviceAdmin(ModelAdmin):
    """Superusers see who has enrolled and reset a lost phone; nobody reads a secret."""

    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "user__last_name"]
    actions = ["reset_two_factor"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    @display(description=_("Utente"), ordering="user__username")
    def person(self, obj: Device) -> str:
        return obj.user.get_username()

    @display(description=_("Stato"), label={"confirmed": "success", "pending": "warning"})
    def status(self, obj: Device) -> tuple[str, StrOrPromise]:
        if obj.confirmed:
            return "confirmed", _("Attiva")
        return "pending", _("In attivazione")

    @display(description=_("Creato il"), ordering="created_at")
    def created(self, obj: Device) -> str:
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Ultimo uso"), ordering="last_used_at", empty_value="—")
    def last_used(self, obj: Device) -> str | None:
        if obj.last_used_at is None:
            return None
        return date_format(timezone.localtime(obj.last_used_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Codici sbagliati di fila"), ordering="throttling_failure_count")
    def failures(self, obj: Device) -> int:
        return obj.throttling_failure_count

    @action(
        description=_("Azzera la verifica in due passaggi (telefono perso)"),
        permissions=["reset"],
    )
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        users = (
            get_user_model()
            .objects.filter(pk__in=queryset.values("user_id").distinct())
            .order_by("pk")
        )
        names = []
        for user in users:
            otp_reset(user=user, by=staff_user(request))
            names.append(user.get_username())
        self.message_user(
            request,
            gettext(
                "Verifica in due passaggi azzerata per: %(names)s. "
                "Al prossimo accesso attiveranno un nuovo telefono."
            )
            % {"names": ", ".join(names)},
            messages.SUCCESS,
        )


class AuthenticatorAdmin(TwoFactorDeviceAdmin):
    list_display = ["person", "status", "created", "last_used", "failures"]
    fields = readonly_fields = ["person", "status", "created", "last_used", "failures"]


class BackupCodesAdmin(TwoFactorDeviceAdmin):
    """How many backup codes a person has left; the codes themselves are never shown."""

    list_display = ["person", "codes_left", "created", "last_used", "failures"]
    fields = readonly_fields = ["person", "codes_left", "created", "last_used", "failures"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(codes_count=Count("token_set"))

    @display(description=_("Codici rimasti"), ordering="codes_count")
    def codes_left(self, obj: Device) -> int:
        return obj.codes_count


def register_admin(site: admin.AdminSite) -> None:
    """Replace django-otp's admin pages with read-only ones in the admin's style.

    Called from the URLconf, as django-otp's own documentation does for its admin site,
    before the admin's URLs are built.
    """
    for model, model_admin in ((TOTPDevice, AuthenticatorAdmin), (StaticDevice, BackupCodesAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
