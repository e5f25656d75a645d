from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """What spans programmes and shops: rendicontazione, the dashboard, archives, open data."""

    name = "reports"
    verbose_name = _("Rendicontazione")
