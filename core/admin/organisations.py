"""Admin of people, their groups and the organisations they work for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
)
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from core.admin.toolkit import (
    LABELLED_DATETIME,
    LabelledTabularInline,
)
from core.models import (
    Membership,
    Organization,
)

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


if TYPE_CHECKING:  # django-stubs make it generic; Django's own class is not
    from django.contrib.auth.models import User as AuthUser

    _BaseUserAdmin = BaseUserAdmin[AuthUser]
else:
    _BaseUserAdmin = BaseUserAdmin


@admin.register(User)
class UserAdmin(_BaseUserAdmin, ModelAdmin):
    formfield_overrides = LABELLED_DATETIME
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class MembershipInline(LabelledTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ["name", "kind", "istat_code", "funder_kind", "email"]
    list_filter = [("kind", ChoicesDropdownFilter), ("funder_kind", ChoicesDropdownFilter)]
    search_fields = ["name", "istat_code"]
    fieldsets = [
        (None, {"fields": ["kind", "name", "istat_code", "funder_kind", "email"]}),
        (_("Registrazione"), {"fields": ["created_at"]}),
    ]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]
