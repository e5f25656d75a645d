from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiteConfig(AppConfig):
    """The composition root as an app, installed last, so that its admin module (the pages
    several apps complete) is loaded after every app's own."""

    name = "config"
    verbose_name = _("BuonoComune")
