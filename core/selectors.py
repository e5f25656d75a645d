"""Read queries of the shared core."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Round

from core.models import Account, Fund, Journal, Membership, Organization, Posting
from core.money import CENT, ZERO
from core.roles import AnyUser, sees_everything


def money_sum(queryset: QuerySet[Any], field: str = "amount") -> Decimal:
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


def funds_for(*, user: AnyUser) -> QuerySet[Fund]:
    """Funds a staff user may see: all for the agency, else those his organisations manage
    or that finance a call of his municipalities."""
    funds = Fund.objects.all()
    if sees_everything(user):
        return funds
    if user.pk is None:  # nobody signed in: no organisation
        return funds.none()
    organizations = Membership.objects.filter(user_id=user.pk).values("organization_id")
    # The calls are reached by their relation's name: core imports no app.
    visible = Fund.objects.filter(
        Q(manager_id__in=organizations) | Q(initiatives__municipalities__in=organizations)
    )
    return funds.filter(pk__in=visible.values("pk"))


def fund_account_keys(*, user: AnyUser) -> list[str]:
    return [f"fund:{pk}" for pk in funds_for(user=user).values_list("pk", flat=True)]


def accounts_for(*, user: AnyUser) -> QuerySet[Account]:
    """Ledger accounts a staff user may see: all for the agency, else his funds' accounts."""
    if sees_everything(user):
        return Account.objects.all()
    return Account.objects.filter(key__in=fund_account_keys(user=user))


def journals_for(*, user: AnyUser) -> QuerySet[Journal]:
    """Journals a staff user may see: all for the agency, else those moving his funds."""
    if sees_everything(user):
        return Journal.objects.all()
    moving = Posting.objects.filter(account__key__in=fund_account_keys(user=user))
    return Journal.objects.filter(pk__in=moving.values("journal_id"))
