"""The pieces every app's admin shares.

The page an action shows to ask for a reason or a confirmation before it calls a service,
the add page whose row a service creates (``ServiceSaveMixin``), the way amounts are shown,
the filters by day and by fund, and the mixins that keep rows to those a person may see or
that nobody may edit.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    CharField,
    DateTimeField,
    DecimalField,
    Field,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Concat
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import capfirst, smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.contrib.filters.admin import (
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.widgets import (
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from core.days import FIRST_DAY, LAST_DAY, start_of_day
from core.errors import DomainError
from core.forms import EuroField
from core.models import (
    Posting,
)
from core.money import format_euro
from core.paginator import AdminMixinBase, BigListAdminMixin
from core.roles import sees_everything
from core.selectors import funds_for

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def euro(amount: Decimal | None) -> str:
    """An amount for a list or a detail page, or a dash when there is none.

    The space after the euro sign does not break, so a narrow column never splits it.
    """
    return format_euro(amount).replace(" ", "\u00a0") if amount is not None else "—"


def status_badge(text: StrOrPromise, variant: str) -> str:
    """A coloured label (``success``, ``info``, ``warning``, ``danger``, ``primary``)."""
    return render_to_string("unfold/helpers/label.html", {"text": text, "variant": variant})


class ReasonForm(forms.Form):
    """The reason an action asks for before it changes a state."""

    reason = forms.CharField(
        label=_("Motivo"),
        max_length=255,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        error_messages={"required": _("Indica il motivo: resta nello storico.")},
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Nota (facoltativa)"),
        max_length=255,
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )


class LabelledSplitDateTimeWidget(UnfoldAdminSplitDateTimeWidget):
    """Unfold's date and time boxes, each with a name a screen reader announces (the
    field's label names the pair; a placeholder is no name)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.widgets[0].attrs["aria-label"] = _("Data")
        self.widgets[1].attrs["aria-label"] = _("Ora")


# For ``formfield_overrides`` of admins whose forms edit a date and time.
LABELLED_DATETIME: dict[type[Field[Any, Any]], dict[str, Any]] = {
    DateTimeField: {"form_class": forms.SplitDateTimeField, "widget": LabelledSplitDateTimeWidget}
}


# For ``formfield_overrides`` of admins whose forms edit amounts in euros (8.500,00).
EURO_AMOUNTS: dict[type[Field[Any, Any]], dict[str, Any]] = {
    DecimalField: {"form_class": EuroField, "widget": UnfoldAdminTextInputWidget}
}


class LabelledTabularInline(TabularInline):
    """A tabular inline whose boxes carry their column's name for screen readers: the
    table's header names them for the eye, but no <label> points at them."""

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is None:
            return None
        widget = getattr(formfield.widget, "widget", formfield.widget)  # related wrapper
        if not widget.is_hidden and not hasattr(widget, "widgets"):
            widget.attrs.setdefault("aria-label", capfirst(db_field.verbose_name))
        return formfield


class ConfirmForm(forms.Form):
    """No fields: the page only asks to confirm."""


def is_confirmed(request: HttpRequest) -> bool:
    """Whether the request comes from the confirmation page of an action."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def bound_if_confirmed[F: forms.Form](
    form_class: type[F], request: HttpRequest, **kwargs: Any
) -> F:
    """The action's form, bound to the posted data once the person confirmed."""
    return form_class(request.POST if is_confirmed(request) else None, **kwargs)


def staff_user(request: HttpRequest) -> User:
    """The signed-in staff member of an admin request: the admin site lets nobody else in."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def changelist_url(model: type[Model], **filters: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def action_form_page(
    request: HttpRequest,
    model_admin: Any,  # a ModelAdmin: unfold's, untyped
    *,
    title: StrOrPromise,
    form: forms.Form,
    submit_label: StrOrPromise,
    description: StrOrPromise = "",
    summary: list[tuple[Any, ...]] | None = None,
    table: dict[str, Any] | None = None,
    table_note: StrOrPromise = "",
    obj: Model | None = None,
    selected: list[Any] | None = None,
    bulk_action: str = "",
    danger: bool = False,
    cancel_url: str = "",
) -> TemplateResponse:
    """Render the page an action shows before it calls a service.

    A bulk action (``bulk_action`` and ``selected``) posts back to the change list with
    the selected rows, as Django's own confirmation pages do; an action on one object
    (``obj``) posts to its own address.
    """
    opts = model_admin.model._meta
    if not cancel_url:
        # A bulk action's page is shown at the change list's own address, filters included.
        cancel_url = change_url(obj) if obj is not None else request.get_full_path()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "description": description,
        "original": obj,
        "form": form,
        "media": model_admin.media + form.media,
        "summary": summary or [],
        "table": table,
        "table_note": table_note,
        "submit_label": submit_label,
        "bulk_action": bulk_action,
        "selected": selected or [],
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "form_action": request.get_full_path(),
        "cancel_url": cancel_url,
        "danger": danger,
    }
    return TemplateResponse(request, "admin/buonocomune/form_page.html", context)


class DayRangeFilter(RangeDateFilter):
    """unfold's date range filter, read as whole local days.

    The date inputs are written in the active language's format (``31/01/2026`` in
    Italian), which unfold's own parser reads with the settings' US formats; a date-time
    field is compared with the local midnights that bound the days, so its index is used.
    """

    def _day(self, suffix: str) -> date | None:
        value = self.used_parameters.get(f"{self.parameter_name}_{suffix}")
        try:
            day = forms.DateField().to_python(value)
        except ValidationError:
            return None
        # A day before 2000 or after 2099 bounds nothing more than those years do, and the
        # calendar's own ends have no midnight in Rome's time.
        return min(max(day, FIRST_DAY), LAST_DAY) if day is not None else None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, end = self._day("from"), self._day("to")
        lookups: dict[str, date] = {}
        if isinstance(self.field, DateTimeField):
            if start is not None:
                lookups[f"{self.field_path}__gte"] = start_of_day(start)
            if end is not None:
                lookups[f"{self.field_path}__lt"] = start_of_day(end + timedelta(days=1))
        else:
            if start is not None:
                lookups[f"{self.field_path}__gte"] = start
            if end is not None:
                lookups[f"{self.field_path}__lte"] = end
        return queryset.filter(**lookups)


class RowScopedAdminMixin(BigListAdminMixin):
    """Staff outside the agency see only the rows ``visible_rows`` gives, history included.

    Django's change page goes through ``get_queryset``; simple-history's pages would open
    any row by its id, so they are checked here.
    """

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if "_sees_everything" not in request.__dict__:  # read once per request
            request.__dict__["_sees_everything"] = sees_everything(request.user)
        if request.__dict__["_sees_everything"]:
            return rows
        return rows.filter(pk__in=self.visible_rows(request).values("pk"))

    def _visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class FundDropdownFilter(RelatedDropdownFilter):
    """A filter by fund that offers only the funds the user may see."""

    def field_choices(
        self, field: Field[Any, Any], request: HttpRequest, model_admin: Any
    ) -> list[tuple[int, str]]:
        funds = funds_for(user=request.user).order_by("name")
        return [(fund.pk, str(fund)) for fund in funds]


class LedgerReadOnlyMixin(AdminMixinBase):
    """Rows written only by services: staff may look, never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _account_total(key_expression: Combinable) -> Subquery:
    """The sum of the postings on the account whose key the expression gives."""
    return Subquery(
        Posting.objects.filter(account__key=key_expression)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def account_total_for(prefix: str, suffix: str = "") -> Subquery:
    """The balance of the account ``<prefix><outer pk><suffix>``, for list annotations."""
    parts = [Value(prefix), Cast(OuterRef("pk"), output_field=CharField())]
    if suffix:
        parts.append(Value(suffix))
    return _account_total(Concat(*parts, output_field=CharField()))


def search_words(term: str) -> list[str]:
    """The words of a search, as the admin splits them (quoted phrases kept whole)."""
    words = []
    for word in smart_split(term):
        if len(word) > 1 and word[0] in "\"'" and word[0] == word[-1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


# Integers beyond this many digits are no id nor reference: compared, they would overflow.
MAX_ID_DIGITS = 18


def whole_number(word: str) -> int | None:
    """The word as an id or a reference, if it is one."""
    return int(word) if word.isascii() and word.isdigit() and len(word) <= MAX_ID_DIGITS else None


class AgencyOnlyMixin(AdminMixinBase):
    """Rows that are agency matters: superusers and agency admins see them, others nothing.

    Anyone else gets an empty list, and a 404 for a row opened by its address.
    """

    def sees_everything(self, request: HttpRequest) -> bool:
        return sees_everything(request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        return rows if self.sees_everything(request) else rows.none()

    def _visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        if object_id and not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)


class ServiceSaveMixin(AdminMixinBase):
    """An add page whose row a service creates: ``obj.save()`` is never called.

    ``save_through_service(request, data)`` calls the service with the form's cleaned data
    and returns the row it created; a ``DomainError`` it raises becomes an error message and
    the add page is shown again, with nothing recorded and nothing logged.
    """

    def save_through_service(self, request: HttpRequest, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        try:
            saved = self.save_through_service(request, form.cleaned_data)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        # The page goes on with the row as the service wrote it (its id, its journal…).
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        if obj.pk is not None:  # nothing was recorded when the service refused
            return super().log_addition(request, obj, message)
        return None

    def response_add(
        self, request: HttpRequest, obj: Model, post_url_continue: str | None = None
    ) -> HttpResponse:
        if obj.pk is None:
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)
