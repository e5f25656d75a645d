"""A paginator for the admin's big lists: it counts a few thousand rows, never all of them.

Counting every redemption or posting a user may see takes longer than finding the page
itself (the count has to visit every row, the page only the first hundred along an index).
Past ``CappedCountPaginator.cap`` rows the count stops and reads "10.000+"; the filters
narrow the list to what staff look for.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats
from django.utils.functional import cached_property

if TYPE_CHECKING:
    from django.contrib.admin.views.main import ChangeList


class CappedCount(int):
    """A count that stopped at its cap: one more than the cap, shown as "10.000+"."""

    def __str__(self) -> str:
        return f"{formats.number_format(self - 1, force_grouping=True)}+"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else super().__format__(spec)


if TYPE_CHECKING:  # django-stubs make Paginator generic; Django's own class is not
    _Paginator = Paginator[Any]
else:
    _Paginator = Paginator

# The admins build on unfold's ModelAdmin, which has no types: to a mixin for them, the
# admin's methods are Any.
AdminMixinBase: Any = object


class CappedCountPaginator(_Paginator):
    """Count at most ``cap`` rows; past it ``count`` is a ``CappedCount`` (cap + 1)."""

    cap = 10_000
    # Set by the admin for a search (``admin_paginator``). A search for a word inside a
    # description reads the whole table whatever the page; counting and then reading the page
    # would read it twice. Instead the ids of the matching rows (up to the cap, in the list's
    # order) are read once: their number is the count and each page is its slice of them,
    # read back by primary key.
    search = False
    _ids: list[Any] | None = None
    _first_rows: list[Any] | None = None

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if self.search and isinstance(rows, QuerySet) and not rows.query.distinct:
            self._ids = list(rows.values_list("pk", flat=True)[: self.cap + 1])
            if len(self._ids) <= self.per_page:
                # One page: Django lists it with a fresh copy of the query; give it the
                # rows now (``first_page_changelist``).
                self._first_rows = list(rows.filter(pk__in=self._ids))
            found = len(self._ids)
            return CappedCount(self.cap + 1) if found > self.cap else found
        if not isinstance(rows, QuerySet):
            return len(rows)
        try:
            # A LIMIT inside the count, so that the database stops after cap + 1 rows; no
            # ORDER BY, which would make it walk the list's index in order checking each row
            # against the user's scope (ten times slower for a municipality's redemptions);
            # and only the ids, not the list's annotations (a sum per journal).
            counted = rows.order_by().values("pk")[: self.cap + 1].count()
        except (AttributeError, TypeError):
            counted = len(rows)
        return CappedCount(self.cap + 1) if counted > self.cap else counted

    def page(self, number: int | str) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if self._ids is not None and top <= self.cap and isinstance(self.object_list, QuerySet):
            rows = self.object_list.filter(pk__in=self._ids[bottom:top])
            if number == 1 and self._first_rows is not None:
                prefill(rows, self._first_rows)
            # Django's Paginator._get_page, which django-stubs do not list.
            return self._get_page(rows, number, self)  # type: ignore[attr-defined, no-any-return]
        return super().page(number)


def prefill(queryset: QuerySet[Any], rows: list[Any]) -> None:
    """Give a queryset the rows it would read, so that using it sends no query."""
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]  # Django's flag, not in the stubs


@functools.cache
def first_page_changelist(base: type[ChangeList]) -> type[ChangeList]:
    """The admin's ChangeList, showing a one-page search with the rows its count read."""

    class FirstPageChangeList(base):  # type: ignore[valid-type, misc]  # the admin's own class
        def get_results(self, request: HttpRequest) -> None:
            super().get_results(request)
            rows = getattr(self.paginator, "_first_rows", None)
            if rows is not None and not self.multi_page and len(rows) <= self.list_per_page:
                # Django lists a single page with a fresh copy of the query: the same rows.
                prefill(self.result_list, rows)

    return FirstPageChangeList


def admin_paginator[P: Paginator[Any]](paginator: P, request: HttpRequest) -> P:
    """Mark a ``CappedCountPaginator`` of a search (``?q=…``) to read the matching ids once."""
    from django.contrib.admin.views.main import SEARCH_VAR

    if isinstance(paginator, CappedCountPaginator) and request.GET.get(SEARCH_VAR, "").strip():
        paginator.search = True
    return paginator


class BigListAdminMixin(AdminMixinBase):  # type: ignore[misc]  # unfold's ModelAdmin is untyped
    """For the admins of lists that grow with the city: 50 rows a page, searches read once.

    A page of 50 rows: unfold renders each row and its checkbox in Python (about 1.3 ms a
    row), so 100 rows cost more than the list's SQL on the big tables. With
    ``paginator = CappedCountPaginator`` a search that fits on one page is read once.
    """

    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return first_page_changelist(super().get_changelist(request, **kwargs))

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator[Any]:
        return admin_paginator(
            super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page),
            request,
        )
