"""Read-only admin pages of the authenticators and backup codes, with the reset action."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from core.otp.services import (
    otp_reset,
)


class TwoFactorDeviceAdmin(ModelAdmin):
    """Superusers see who has enrolled and reset a lost phone; nobody reads a secret."""

    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "user__last_name"]
    actions = ["reset_two_factor"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reset_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @display(description=_("Utente"), ordering="user__username")
    def person(self, obj):
        return obj.user.get_username()

    @display(description=_("Stato"), label={"confirmed": "success", "pending": "warning"})
    def status(self, obj):
        if obj.confirmed:
            return "confirmed", _("Attiva")
        return "pending", _("In attivazione")

    @display(description=_("Creato il"), ordering="created_at")
    def created(self, obj):
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Ultimo uso"), ordering="last_used_at", empty_value="—")
    def last_used(self, obj):
        if obj.last_used_at is None:
            return None
        return date_format(timezone.localtime(obj.last_used_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Codici sbagliati di fila"), ordering="throttling_failure_count")
    def failures(self, obj):
        return obj.throttling_failure_count

    @action(
        description=_("Azzera la verifica in due passaggi (telefono perso)"),
        permissions=["reset"],
    )
    def reset_two_factor(self, request, queryset):
        users = (
            get_user_model()
            .objects.filter(pk__in=queryset.values("user_id").distinct())
            .order_by("pk")
        )
        names = []
        for user in users:
            otp_reset(user=user, by=request.user)
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

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(codes_count=Count("token_set"))

    @display(description=_("Codici rimasti"), ordering="codes_count")
    def codes_left(self, obj):
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
