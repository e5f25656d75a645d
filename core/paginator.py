"""A paginator for the admin's big lists: it counts a few thousand rows, never all of them.

Counting every redemption or posting a user may see takes longer than finding the page
itself (the count has to visit every row, the page only the first hundred along an index).
Past ``CappedCountPaginator.cap`` rows the count stops and reads "10.000+"; the filters
narrow the list to what staff look for.
"""

import functools

from django.core.paginator import Paginator
from django.utils import formats
from django.utils.functional import cached_property


class CappedCount(int):
    """A count that stopped at its cap: one more than the cap, shown as "10.000+"."""

    def __str__(self) -> str:
        return f"{formats.number_format(self - 1, force_grouping=True)}+"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else super().__format__(spec)


class CappedCountPaginator(Paginator):
    """Count at most ``cap`` rows; past it ``count`` is a ``CappedCount`` (cap + 1)."""

    cap = 10_000
    # Set by the admin for a search (``admin_paginator``). A search for a word inside a
    # description reads the whole table whatever the page; counting and then reading the page
    # would read it twice. Instead the ids of the matching rows (up to the cap, in the list's
    # order) are read once: their number is the count and each page is its slice of them,
    # read back by primary key.
    search = False
    _ids: list | None = None
    _first_rows: list | None = None

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if self.search and query is not None and not query.distinct:
            self._ids = list(self.object_list.values_list("pk", flat=True)[: self.cap + 1])
            if len(self._ids) <= self.per_page:
                # One page: Django lists it with a fresh copy of the query; give it the
                # rows now (``first_page_changelist``).
                self._first_rows = list(self.object_list.filter(pk__in=self._ids))
            found = len(self._ids)
            return CappedCount(self.cap + 1) if found > self.cap else found
        try:
            # A LIMIT inside the count, so that the database stops after cap + 1 rows; no
            # ORDER BY, which would make it walk the list's index in order checking each row
            # against the user's scope (ten times slower for a municipality's redemptions);
            # and only the ids, not the list's annotations (a sum per journal).
            counted = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        except (AttributeError, TypeError):
            counted = len(self.object_list)
        return CappedCount(self.cap + 1) if counted > self.cap else counted

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if self._ids is not None and top <= self.cap:
            rows = self.object_list.filter(pk__in=self._ids[bottom:top])
            if number == 1 and self._first_rows is not None:
                prefill(rows, self._first_rows)
            return self._get_page(rows, number, self)
        return super().page(number)


def prefill(queryset, rows: list) -> None:
    """Give a queryset the rows it would read, so that using it sends no query."""
    queryset._result_cache = rows
    queryset._prefetch_done = True


@functools.cache
def first_page_changelist(base):
    """The admin's ChangeList, showing a one-page search with the rows its count read."""

    class FirstPageChangeList(base):
        def get_results(self, request):
            super().get_results(request)
            rows = getattr(self.paginator, "_first_rows", None)
            if rows is not None and not self.multi_page and len(rows) <= self.list_per_page:
                # Django lists a single page with a fresh copy of the query: the same rows.
                prefill(self.result_list, rows)

    return FirstPageChangeList


def admin_paginator(paginator, request):
    """Mark a ``CappedCountPaginator`` of a search (``?q=…``) to read the matching ids once."""
    from django.contrib.admin.views.main import SEARCH_VAR

    if isinstance(paginator, CappedCountPaginator) and request.GET.get(SEARCH_VAR, "").strip():
        paginator.search = True
    return paginator


class BigListAdminMixin:
    """For the admins of lists that grow with the city: 50 rows a page, searches read once.

    A page of 50 rows: unfold renders each row and its checkbox in Python (about 1.3 ms a
    row), so 100 rows cost more than the list's SQL on the big tables. With
    ``paginator = CappedCountPaginator`` a search that fits on one page is read once.
    """

    list_per_page = 50

    def get_changelist(self, request, **kwargs):
        return first_page_changelist(super().get_changelist(request, **kwargs))

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return admin_paginator(
            super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page),
            request,
        )
