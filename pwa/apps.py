from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from pwa import PROJECT_APP_DIR


class PwaConfig(AppConfig):
    name = "pwa"
    label = "pwa"
    verbose_name = _("App per beneficiari e negozi")
    # The package spans two folders (see pwa/__init__.py); templates and static files
    # of the project live in this one.
    path = str(PROJECT_APP_DIR)
