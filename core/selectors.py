"""Read queries of the shared core."""

from decimal import Decimal

from django.db.models import QuerySet, Sum

from core.models import Journal, Organization, Posting
from core.money import ZERO


def account_balance(*, key: str) -> Decimal:
    """Return the sum of every posting on the account with this key."""
    total = Posting.objects.filter(account__key=key).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else ZERO


def fund_balance(*, fund_id: int) -> Decimal:
    return account_balance(key=f"fund:{fund_id}")


def unbalanced_journals() -> QuerySet[Journal]:
    """Return the journals whose postings do not sum to zero (there should be none)."""
    return (
        Journal.objects.annotate(total=Sum("postings__amount"))
        .exclude(total=Decimal("0"))
        .order_by("id")
    )


def municipalities() -> QuerySet[Organization]:
    return Organization.objects.filter(kind=Organization.Kind.MUNICIPALITY)
