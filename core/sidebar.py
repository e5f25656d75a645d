"""Which links of the admin's sidebar a person sees: only those he may open."""

from collections.abc import Callable

from django.http import HttpRequest


def may_open(request: HttpRequest, model_label: str) -> bool:
    """Whether the model's admin list would open for this person, rather than a 403."""
    from django.apps import apps  # the settings import this module: no models yet
    from django.contrib import admin

    model_admin = admin.site._registry.get(apps.get_model(model_label))
    return bool(
        model_admin is not None
        and model_admin.has_module_permission(request)
        and model_admin.has_view_or_change_permission(request)
    )


def may_open_list(model_label: str) -> Callable[[HttpRequest], bool]:
    """A sidebar permission callback for the model's list (settings cannot import admins)."""

    def check(request: HttpRequest) -> bool:
        return may_open(request, model_label)

    return check
