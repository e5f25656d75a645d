"""What each staff user may see in the admin, the same on every page.

Every list, detail page, filter, form choice, export and action starts from
``get_queryset``, which admins of citizens' data build from the selectors of
``vouchers.selectors`` (``initiatives_for``, ``applications_for``, ``beneficiaries_for``,
``vouchers_for``). The user's roles and municipalities are read once per request.
"""

import re
from contextvars import ContextVar

from django.contrib.admin.utils import unquote
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet
from django.http import Http404
from unfold.contrib.filters.admin import RelatedDropdownFilter

from core.models import Fund, Organization, Role
from core.paginator import BigListAdminMixin
from core.selectors import funds_for
from vouchers.models import Application, Beneficiary, Initiative
from vouchers.selectors.scope import (
    StaffScope,
    applications_for,
    beneficiaries_for,
    initiatives_for,
    staff_scope,
    vouchers_for,
)

# Sixteen letters and digits: a codice fiscale (omocodes included), never a surname.
FISCAL_CODE_SHAPE = re.compile(r"^[A-Z0-9]{16}$")
_SCOPE_ATTRIBUTE = "_buonocomune_staff_scope"
# The request a change page is being built for: Django calls the read-only panels of a
# detail page with the object only, and panels listing related rows must scope them too.
_page_request: ContextVar = ContextVar("buonocomune_admin_page_request", default=None)


def page_request():
    """The request of the change page being rendered (None outside one)."""
    return _page_request.get()


def request_scope(request) -> StaffScope:
    """The user's scope, read on the first use in a request and kept on the request."""
    scope = getattr(request, _SCOPE_ATTRIBUTE, None)
    if scope is None or scope.user_id != request.user.pk:
        scope = staff_scope(user=request.user)
        setattr(request, _SCOPE_ATTRIBUTE, scope)
    return scope


def visible_initiatives(request) -> QuerySet[Initiative]:
    return initiatives_for(user=request.user, scope=request_scope(request))


def visible_applications(request) -> QuerySet[Application]:
    return applications_for(user=request.user, scope=request_scope(request))


def visible_beneficiaries(request) -> QuerySet[Beneficiary]:
    return beneficiaries_for(user=request.user, scope=request_scope(request))


def visible_vouchers(request):
    return vouchers_for(user=request.user, scope=request_scope(request))


def visible_municipalities(request) -> QuerySet[Organization]:
    """The municipalities whose people the user works with (a tutor: those of his cases)."""
    scope = request_scope(request)
    towns = Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY)
    if scope.everything:
        return towns
    visible = Q(pk__in=scope.municipality_ids)
    if Role.TUTOR in scope.roles:
        visible |= Q(
            pk__in=Application.objects.filter(tutor_id=scope.user_id).values("municipality_id")
        )
    return towns.filter(visible)


class ScopedRelatedDropdownFilter(RelatedDropdownFilter):
    """A related-object filter that offers only the objects the user may see."""

    def field_choices(self, field, request, model_admin):
        choices = model_admin.related_choices(request, field.related_model)
        if choices is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        if ordering:
            choices = choices.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in choices]


class ScopedAdminMixin(BigListAdminMixin):
    """Limit an admin to the rows its user may see.

    Subclasses define ``scoped_queryset(request)`` (usually a selector). The list, the
    change page, bulk actions, unfold's buttons, autocomplete and exports all go through
    ``get_queryset``; the history pages of simple-history are checked here too, since they
    would otherwise open any row by its id.
    """

    def scoped_queryset(self, request) -> QuerySet:
        # Every scoped admin must say what its user may see; failing loudly beats showing all.
        raise ImproperlyConfigured(f"{type(self).__name__} must define scoped_queryset()")

    def get_queryset(self, request):
        return super().get_queryset(request) & self.scoped_queryset(request)

    def get_search_results(self, request, queryset, search_term):
        """Find a person's rows by his fiscal code through its unique index.

        Django's ``=fiscal_code`` search compares ``UPPER(fiscal_code)``, which no index
        serves (a scan of every citizen, joined to the list); codes are stored upper-case,
        so a term shaped like one is compared as it is stored, and alone.
        """
        term = search_term.strip().upper()
        path = next(
            (
                field[1:]
                for field in self.get_search_fields(request)
                if field.startswith("=") and field.endswith("fiscal_code")
            ),
            None,
        )
        if path is not None and FISCAL_CODE_SHAPE.match(term):
            return queryset.filter(**{path: term}), False
        return super().get_search_results(request, queryset, search_term)

    def related_choices(self, request, model) -> QuerySet | None:
        """What a filter or a form may offer of ``model`` (None: everything)."""
        if model is Initiative:
            return visible_initiatives(request)
        if model is Organization:
            return visible_municipalities(request)
        if model is Beneficiary:
            return visible_beneficiaries(request)
        if model is Fund:
            return funds_for(user=request.user)
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = self.related_choices(request, db_field.related_model)
        if choices is not None and "queryset" not in kwargs:
            kwargs["queryset"] = choices.complex_filter(db_field.get_limit_choices_to())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        token = _page_request.set(request)
        try:
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # the panels run while the request is still known
            return response
        finally:
            _page_request.reset(token)

    def _visible_or_404(self, request, object_id) -> None:
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
