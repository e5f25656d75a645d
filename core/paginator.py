"""A paginator for the admin's big lists: it counts a few thousand rows, never all of them.

Counting every redemption or posting a user may see takes longer than finding the page
itself (the count has to visit every row, the page only the first hundred along an index).
Past ``CappedCountPaginator.cap`` rows the count stops and reads "10.000+"; the filters
narrow the list to what staff look for.
"""

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

    @cached_property
    def count(self) -> int:
        try:
            # A LIMIT inside the count, so that the database stops after cap + 1 rows; no
            # ORDER BY, which would make it walk the list's index in order checking each row
            # against the user's scope (ten times slower for a municipality's redemptions);
            # and only the ids, not the list's annotations (a sum per journal).
            counted = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        except (AttributeError, TypeError):
            counted = len(self.object_list)
        return CappedCount(self.cap + 1) if counted > self.cap else counted
