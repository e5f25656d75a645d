"""Admin of the ledger: journals, postings and accounts, read-only.

Ledger rows change only through services; staff outside the agency see those of their funds.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.cache import cache
from django.db.models import (
    Count,
    DecimalField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
)
from unfold.decorators import display

from core.admin.toolkit import (
    DayRangeFilter,
    LabelledTabularInline,
    LedgerReadOnlyMixin,
    RowScopedAdminMixin,
    changelist_url,
    euro,
    search_words,
    whole_number,
)
from core.models import (
    Account,
    Journal,
    Posting,
)
from core.money import CENT, ZERO
from core.paginator import CappedCountPaginator
from core.selectors import accounts_for, journals_for, money_sum


class PostingInline(LabelledTabularInline):
    model = Posting
    extra = 0
    can_delete = False
    per_page = 50
    fields = ["account", "amount", "voucher_ref", "merchant_ref"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Posting | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Posting | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("account").order_by("id")


@admin.register(Journal)
class JournalAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["id", "kind", "memo", "moved_display", "created_at", "created_by"]
    list_filter = [("kind", ChoicesDropdownFilter), ("created_at", DayRangeFilter)]
    list_filter_submit = True
    search_fields = ["memo", "=id"]
    list_select_related = ["created_by"]
    fields = ["kind", "memo", "created_at", "created_by", "moved_detail", "total_detail"]
    readonly_fields = fields
    inlines = [PostingInline]
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        moved = Subquery(
            Posting.objects.filter(journal=OuterRef("pk"), amount__gt=0)
            .order_by()
            .values("journal_id")
            .annotate(total=Sum("amount"))
            .values("total")[:1],
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        return super().get_queryset(request).annotate(moved=moved)

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        return journals_for(user=request.user)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Find journals by memo, or by number compared as a number (not as text)."""
        for word in search_words(search_term):
            found = Q(memo__icontains=word)
            number = whole_number(word)
            if number is not None:
                found |= Q(pk=number)
            queryset = queryset.filter(found)
        return queryset, False

    @display(description=_("importo movimentato"), ordering="moved")
    def moved_display(self, obj: Journal) -> str:
        return euro(obj.moved)  # type: ignore[attr-defined]  # annotated by get_queryset

    @display(description=_("importo movimentato"))
    def moved_detail(self, obj: Journal) -> str:
        return euro(obj.moved)  # type: ignore[attr-defined]  # annotated by get_queryset

    @display(description=_("somma delle righe"))
    def total_detail(self, obj: Journal) -> str:
        totals = obj.postings.aggregate(total=Sum("amount"), lines=Count("id"))
        total = totals["total"] if totals["total"] is not None else ZERO
        if total == ZERO:
            text = _("%(total)s: in pareggio (%(lines)s righe)") % {
                "total": euro(total),
                "lines": totals["lines"],
            }
            return format_html('<span class="text-green-700 font-semibold">{}</span>', text)
        text = _("%(total)s: NON in pareggio") % {"total": euro(total)}
        return format_html('<span class="text-red-700 font-semibold">{}</span>', text)


@admin.register(Posting)
class PostingAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "id",
        "journal_link",
        "journal_kind",
        "account",
        "amount_display",
        "voucher_ref",
        "merchant_ref",
        "journal_created_at",
    ]
    list_filter = [
        ("account__kind", ChoicesDropdownFilter),
        ("journal__kind", ChoicesDropdownFilter),
    ]
    search_fields = ["account__key", "account__name", "=voucher_ref", "=merchant_ref"]
    list_select_related = ["journal", "account"]
    fields = ["journal", "account", "amount", "voucher_ref", "merchant_ref"]
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        return Posting.objects.filter(account__in=accounts_for(user=request.user))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Find postings by account, or by the voucher or shop they refer to.

        The accounts (a few hundred) are looked up first and the postings filtered by their
        ids; references are compared as numbers, within every account, so that the
        (account, reference) indexes serve (there is no index on a reference alone: every
        issue and redemption would pay for it).
        """
        every_account = None
        for word in search_words(search_term):
            accounts = Account.objects.filter(Q(key__icontains=word) | Q(name__icontains=word))
            found = Q(account_id__in=list(accounts.values_list("pk", flat=True)))
            number = whole_number(word)
            if number is not None:
                if every_account is None:
                    every_account = list(Account.objects.values_list("pk", flat=True))
                found |= Q(account_id__in=every_account, voucher_ref=number) | Q(
                    account_id__in=every_account, merchant_ref=number
                )
            queryset = queryset.filter(found)
        return queryset, False

    @display(description=_("registrazione"), ordering="journal_id")
    def journal_link(self, obj: Posting) -> str:
        url = reverse("admin:core_journal_change", args=[obj.journal_id])
        return format_html('<a href="{}" class="text-link">#{}</a>', url, obj.journal_id)

    @display(description=_("tipo"))
    def journal_kind(self, obj: Posting) -> str:
        return obj.journal.get_kind_display()

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj: Posting) -> str:
        return euro(obj.amount)

    @display(description=_("registrato il"), ordering="journal__created_at")
    def journal_created_at(self, obj: Posting) -> datetime:
        return obj.journal.created_at


ACCOUNT_BALANCES_SECONDS = 5 * 60


def recent_account_balances() -> dict[int, Decimal]:
    """Every account's balance, for the accounts list (computed at once, kept a few minutes)."""
    balances = cache.get("admin:accounts:balances")
    if balances is None:
        balances = {
            row["account_id"]: Decimal(str(row["total"] or 0)).quantize(CENT)
            for row in Posting.objects.order_by().values("account_id").annotate(total=Sum("amount"))
        }
        cache.set("admin:accounts:balances", balances, ACCOUNT_BALANCES_SECONDS)
    return balances


@admin.register(Account)
class AccountAdmin(RowScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = ["key", "kind", "name", "recent_balance_display", "postings_link"]
    list_filter = [("kind", ChoicesDropdownFilter)]
    search_fields = ["key", "name"]
    fields = ["key", "kind", "name", "balance_display", "postings_link"]
    readonly_fields = fields

    def visible_rows(self, request: HttpRequest) -> QuerySet[Any]:
        return accounts_for(user=request.user)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Account | None:
        account = super().get_object(request, object_id, from_field)
        if account is not None:
            account.exact_balance = money_sum(account.postings.all())
        return account

    @display(description=_("saldo"))
    def balance_display(self, obj: Account) -> str:
        return euro(getattr(obj, "exact_balance", ZERO))

    @display(description=_("saldo (di pochi minuti fa)"))
    def recent_balance_display(self, obj: Account) -> str:
        # Summing the postings of a call's vouchers in circulation takes long: the list
        # shows the balances of every account computed at once and kept a few minutes; the
        # account's page shows it exact.
        return euro(recent_account_balances().get(obj.pk, ZERO))

    @display(description=_("movimenti"))
    def postings_link(self, obj: Account) -> str:
        url = changelist_url(Posting, account__id__exact=obj.pk)
        return format_html('<a href="{}" class="text-link">{}</a>', url, _("Vedi i movimenti"))
