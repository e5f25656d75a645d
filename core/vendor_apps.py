"""The admin's third-party apps under Italian names.

django-otp's plugins have no ``verbose_name`` (the admin would show "Otp_Totp") and name their
models in English without gettext ("TOTP device"). These configurations take their place in ``INSTALLED_APPS`` and give the names through the catalogue. The English
msgids are the packages' own words, so the migrations' state does not change.
"""

from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as StaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpConfig


class AuthenticatorAppsConfig(TotpConfig):
    verbose_name = _("Verifica in due passaggi: app di autenticazione")

    def ready(self) -> None:
        super().ready()
        model = self.get_model("TOTPDevice")
        model._meta.verbose_name = _("TOTP device")
        model._meta.verbose_name_plural = _("TOTP devices")


class BackupCodesConfig(StaticConfig):
    verbose_name = _("Verifica in due passaggi: codici di emergenza")

    def ready(self) -> None:
        super().ready()
        model = self.get_model("StaticDevice")
        model._meta.verbose_name = _("static device")
        model._meta.verbose_name_plural = _("static devices")
        token = self.get_model("StaticToken")
        token._meta.verbose_name = _("static token")
        token._meta.verbose_name_plural = _("static tokens")
