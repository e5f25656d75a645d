"""Read queries of the shared core."""

from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import Round

from core.models import Journal, Organization, Posting
from core.money import CENT, ZERO


def money_sum(queryset: QuerySet, field: str = "amount") -> Decimal:
    """Return the sum of a money column in whole cents.

    SQLite adds decimals as floats, so a sum can come back as 1.7E-15 instead of zero.
    """
    total = queryset.aggregate(total=Sum(field))["total"]
    return ZERO if total is None else total.quantize(CENT)


def account_balance(*, key: str) -> Decimal:
    """Return the sum of every posting on the account with this key."""
    return money_sum(Posting.objects.filter(account__key=key))


def fund_balance(*, fund_id: int) -> Decimal:
    return account_balance(key=f"fund:{fund_id}")


def unbalanced_journals() -> QuerySet[Journal]:
    """Return the journals whose postings do not sum to zero (there should be none)."""
    return (
        Journal.objects.annotate(total=Round(Sum("postings__amount"), 2))
        .exclude(total=Decimal("0"))
        .order_by("id")
    )


def municipalities() -> QuerySet[Organization]:
    return Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY)
