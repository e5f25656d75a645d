from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_role_groups(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After ``migrate``, give each role's group exactly the permissions of ``ROLE_PERMISSIONS``.

    Runs once, after the last app's permissions exist, so that an upgrade which gives a role
    a new permission reaches the people who already hold that role.
    """
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if sender.label != with_models[-1].label:  # only apps with models get the signal
        return
    from core.roles import roles_sync

    roles_sync(using=using)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Enti, fondi e contabilità")

    def ready(self) -> None:
        post_migrate.connect(sync_role_groups, dispatch_uid="core.sync_role_groups")
