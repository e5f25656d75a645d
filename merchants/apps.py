from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Negozi")

    def ready(self) -> None:
        from merchants import schema  # noqa: F401  (registers the OpenAPI extension)
