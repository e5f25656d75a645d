"""The periodic tasks of Celery beat (django-celery-beat) in the unfold admin.

django-celery-beat registers its models with Django's plain ``ModelAdmin``; they are
registered again here with unfold's, as unfold documents, so the pages look like the rest of
the admin. Schedules run settlements and expiry for every municipality: only superusers and
the agency see or change them, whatever model permissions a user has been given.
"""

import re

import django_celery_beat.admin  # noqa: F401  (registers the defaults replaced below)
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import ngettext
from django_celery_beat.admin import CrontabScheduleAdmin as BaseCrontabScheduleAdmin
from django_celery_beat.admin import PeriodicTaskAdmin as BasePeriodicTaskAdmin
from django_celery_beat.admin import PeriodicTaskForm, TaskSelectWidget
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from core.admin.toolkit import LABELLED_DATETIME, LabelledTabularInline
from core.roles import sees_everything


def may_manage_schedules(request: HttpRequest) -> bool:
    """Superusers and agency admins manage the periodic tasks (also the sidebar's check)."""
    user = request.user
    return bool(user.is_active and user.is_staff and sees_everything(user))


class AgencySchedulesMixin:
    """Every permission of these pages is the agency's, not a model permission."""

    def has_module_permission(self, request):
        return may_manage_schedules(request)

    def has_view_permission(self, request, obj=None):
        return may_manage_schedules(request)

    def has_add_permission(self, request, *args, **kwargs):
        return may_manage_schedules(request)

    def has_change_permission(self, request, obj=None):
        return may_manage_schedules(request)

    def has_delete_permission(self, request, obj=None):
        return may_manage_schedules(request)


# Daily and weekly times are all the programmes need: crontab schedules. Intervals, solar and
# one-off schedules stay out of the admin (the scheduler still runs any that exist).
for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class UnfoldTaskSelectWidget(UnfoldAdminSelectWidget, TaskSelectWidget):
    pass


class UnfoldPeriodicTaskForm(PeriodicTaskForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].widget = UnfoldAdminTextInputWidget()
        self.fields["regtask"].widget = UnfoldTaskSelectWidget()


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(AgencySchedulesMixin, BasePeriodicTaskAdmin, ModelAdmin):
    formfield_overrides = LABELLED_DATETIME
    form = UnfoldPeriodicTaskForm
    list_display = ("name", "enabled", "task", "scheduler", "last_run_at", "total_run_count")

    def message_user(self, request, message, *args, **kwargs):
        # The "run selected tasks" action builds its sentence with an English plural ending
        # ("{0} task{1} {2} successfully run"), which no catalogue can translate: it is said
        # again here, in the reader's language.
        if match := RUN_MESSAGE.match(str(message)):
            count = int(match["count"])
            message = ngettext(
                "%(count)d attività avviata.", "%(count)d attività avviate.", count
            ) % {"count": count}
        return super().message_user(request, message, *args, **kwargs)


# "was"/"were" come through Django's pluralize, which the catalogue translates.
RUN_MESSAGE = re.compile(r"^(?P<count>\d+) tasks? .+ successfully run$")


class PeriodicTaskInline(LabelledTabularInline):
    """The tasks that run at a time, on its page: read here, changed on the task's page."""

    model = PeriodicTask
    fields = ["name", "task", "enabled"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        return may_manage_schedules(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(AgencySchedulesMixin, BaseCrontabScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]
