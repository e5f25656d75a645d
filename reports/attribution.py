"""The attribution of every spent euro of a call to its funding sources.

Redemptions, voids and approved reimbursements are attributed to the call's tranches
(``InitiativeFunding``) by the call's rule, out of the redemption's hot path:
``attribution_refresh`` reads the ledger (and the approved expenses) and writes
``FundingAttribution`` rows for what is not attributed yet, so that a funder's report
(``reports.funder_reach``) can say which shops, categories and municipalities its money
reached.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet, Sum

from core.models import Journal, Posting
from core.money import CENT, ZERO
from reports.shops import category_of_shops
from vouchers.models import (
    Expense,
    FundingAttribution,
    Initiative,
    InitiativeFunding,
    ReimbursementClaim,
    Voucher,
)
from vouchers.services.funding import adopt_fund_assignments, split_priority, split_pro_rata

REIMBURSED_CLAIM_STATUSES = (
    ReimbursementClaim.Status.APPROVED,
    ReimbursementClaim.Status.PARTLY_APPROVED,
    ReimbursementClaim.Status.PAID,
)
REIMBURSED_EXPENSE_STATUSES = (Expense.Status.APPROVED, Expense.Status.REDUCED)


def reimbursed_expense_amounts(*, initiative: Initiative) -> dict[int, Decimal]:
    """The reimbursed amount of each expense of the call: approved ones, in approved claims.

    An approved expense counts for its approved amount (its full amount when none is
    written); any other expense, or one of a claim not approved, counts zero.
    """
    rows = Expense.objects.filter(
        claim__initiative=initiative,
        claim__status__in=REIMBURSED_CLAIM_STATUSES,
        status__in=REIMBURSED_EXPENSE_STATUSES,
    ).values_list("pk", "amount", "approved_amount")
    return {
        pk: (approved if approved is not None else amount)
        for pk, amount, approved in rows
        if (approved if approved is not None else amount) > ZERO
    }


@dataclass
class _Ledger:
    """The sources of a call and what each has been attributed, kept up to date in a run."""

    rule: str
    sources: list[tuple[int, Decimal]]
    attributed: dict[int, Decimal] = field(default_factory=dict)

    def split(self, amount: Decimal) -> dict[int, Decimal]:
        if self.rule == Initiative.AttributionRule.PRIORITY:
            parts = split_priority(amount, self.sources, self.attributed)
        else:
            parts = split_pro_rata(amount, self.sources, self.attributed)
        self.add(parts)
        return parts

    def add(self, parts: dict[int, Decimal]) -> None:
        for key, value in parts.items():
            self.attributed[key] = self.attributed.get(key, ZERO) + value


@dataclass(frozen=True, slots=True)
class AttributionReport:
    rows_written: int
    events: int


def _attributed_by_source(queryset: QuerySet[FundingAttribution]) -> dict[int, Decimal]:
    return {
        source_id: (total or ZERO).quantize(CENT)
        for source_id, total in queryset.order_by()
        .values("source_id")
        .annotate(total=Sum("amount"))
        .values_list("source_id", "total")
    }


def attribution_refresh(*, initiative: Initiative) -> AttributionReport:
    """Attribute to the call's sources what was redeemed, voided or reimbursed since last time.

    Idempotent and incremental: a journal already attributed is skipped, and an expense
    is attributed again only when its reimbursed amount changed (its previous rows are
    reversed first). A void reverses exactly the rows of the redemption it cancels.
    """
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        adopt_fund_assignments(initiative=initiative)
        sources = list(
            InitiativeFunding.objects.filter(initiative=initiative)
            .order_by("priority", "id")
            .values_list("pk", "amount")
        )
        if not sources:
            return AttributionReport(rows_written=0, events=0)
        existing = FundingAttribution.objects.filter(initiative=initiative)
        ledger = _Ledger(
            rule=initiative.attribution_rule,
            sources=sources,
            attributed=_attributed_by_source(existing),
        )
        rows: list[FundingAttribution] = []
        events = _attribute_redemptions(initiative, ledger, rows)
        events += _attribute_reimbursements(initiative, ledger, rows)
        FundingAttribution.objects.bulk_create(rows, batch_size=2000)
    return AttributionReport(rows_written=len(rows), events=events)


# The redemptions a void may cancel, by (voucher, shop, amount): each (journal, its parts).
_OpenRedemptions = dict[
    tuple[int | None, int | None, Decimal], list[tuple[int, dict[int, Decimal]]]
]


def _attribute_redemptions(
    initiative: Initiative, ledger: _Ledger, rows: list[FundingAttribution]
) -> int:
    attributed = FundingAttribution.objects.filter(
        initiative=initiative, journal_id=OuterRef("journal_id")
    )
    postings = list(
        Posting.objects.filter(
            account__key=initiative.outstanding_account_key,
            journal__kind__in=[Journal.Kind.REDEMPTION, Journal.Kind.REDEMPTION_VOID],
        )
        .filter(~Exists(attributed))
        .order_by("journal_id", "id")
        .values_list("journal_id", "journal__kind", "voucher_ref", "amount")
    )
    if not postings:
        return 0
    journal_ids = [journal_id for journal_id, *_rest in postings]
    # merchant_ref__isnull=False: every journal here has its shop.
    shops = cast(
        dict[int, int],
        dict(
            Posting.objects.filter(journal_id__in=journal_ids, merchant_ref__isnull=False)
            .order_by()
            .values_list("journal_id", "merchant_ref")
        ),
    )
    towns: dict[int | None, int | None] = dict(
        Voucher.objects.filter(pk__in={voucher for _j, _k, voucher, _a in postings}).values_list(
            "pk", "beneficiary__municipality_id"
        )
    )
    allowed = set(initiative.allowed_categories.values_list("pk", flat=True))
    categories: dict[Any, int | None] = category_of_shops(  # read with None too
        merchant_ids=set(shops.values()), allowed=allowed
    )
    # The redemptions a void may cancel: same voucher, shop and amount, not yet cancelled.
    open_redemptions: _OpenRedemptions = defaultdict(list)
    void_vouchers = {
        voucher for _j, kind, voucher, _a in postings if kind != Journal.Kind.REDEMPTION
    }
    if void_vouchers:
        _load_open_redemptions(initiative, void_vouchers, open_redemptions)
    for journal_id, kind, voucher_id, posting_amount in postings:
        merchant_id = shops.get(journal_id)
        context = {
            "initiative": initiative,
            "journal_id": journal_id,
            "voucher_id": voucher_id,
            "merchant_ref": merchant_id,
            "municipality_id": towns.get(voucher_id),
            "category_id": categories.get(merchant_id),
        }
        key = (voucher_id, merchant_id, abs(posting_amount))
        if kind == Journal.Kind.REDEMPTION:
            parts = ledger.split(-posting_amount)
            open_redemptions[key].append((journal_id, parts))
            rows.extend(
                FundingAttribution(source_id=source_id, kind=kind, amount=value, **context)
                for source_id, value in parts.items()
            )
            continue
        candidates = [item for item in open_redemptions[key] if item[0] < journal_id]
        if candidates:
            cancelled_journal, cancelled_parts = candidates[-1]
            open_redemptions[key].remove(candidates[-1])
            parts = {source_id: -value for source_id, value in cancelled_parts.items()}
            ledger.add(parts)
        else:  # a void without its redemption on record: give the amount back by the rule
            cancelled_journal = None
            parts = ledger.split(-posting_amount)
        rows.extend(
            FundingAttribution(
                source_id=source_id,
                kind=kind,
                amount=value,
                reverses_id=cancelled_journal,
                **context,
            )
            for source_id, value in parts.items()
        )
    return len(postings)


def _load_open_redemptions(
    initiative: Initiative, voucher_ids: set[int | None], open_redemptions: _OpenRedemptions
) -> None:
    cancelled = FundingAttribution.objects.filter(
        initiative=initiative, kind=FundingAttribution.Kind.REDEMPTION_VOID, reverses__isnull=False
    ).values("reverses_id")
    parts_by_journal: dict[int, dict[int, Decimal]] = defaultdict(dict)
    heads: dict[int, tuple[int, int | None]] = {}
    for journal_id, voucher_id, merchant_id, source_id, amount in (
        FundingAttribution.objects.filter(
            initiative=initiative,
            kind=FundingAttribution.Kind.REDEMPTION,
            voucher_id__in=voucher_ids,  # type: ignore[misc]  # Django drops None from __in
        )
        .exclude(journal_id__in=cancelled)
        .order_by("journal_id", "source_id")
        .values_list("journal_id", "voucher_id", "merchant_ref", "source_id", "amount")
    ):
        parts_by_journal[journal_id][source_id] = amount
        heads[journal_id] = (voucher_id, merchant_id)
    for journal_id in sorted(parts_by_journal):
        voucher_id, merchant_id = heads[journal_id]
        parts = parts_by_journal[journal_id]
        total = sum(parts.values(), ZERO)
        open_redemptions[(voucher_id, merchant_id, total)].append((journal_id, parts))


def _attribute_reimbursements(
    initiative: Initiative, ledger: _Ledger, rows: list[FundingAttribution]
) -> int:
    wanted = reimbursed_expense_amounts(initiative=initiative)
    done: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for expense_id, source_id, total in (
        FundingAttribution.objects.filter(
            initiative=initiative, kind=FundingAttribution.Kind.REIMBURSEMENT
        )
        .order_by()
        .values("expense_id", "source_id")
        .annotate(total=Sum("amount"))
        .values_list("expense_id", "source_id", "total")
    ):
        total = (total or ZERO).quantize(CENT)
        if total:
            done[expense_id][source_id] = total
    changed = sorted(
        expense_id
        for expense_id in set(wanted) | set(done)
        if wanted.get(expense_id, ZERO) != sum(done[expense_id].values(), ZERO)
    )
    if not changed:
        return 0
    details = {
        pk: (town, category)
        for pk, town, category in Expense.objects.filter(pk__in=changed).values_list(
            "pk", "claim__beneficiary__municipality_id", "category_id"
        )
    }
    for expense_id in changed:
        town, category = details[expense_id]
        context = {
            "initiative": initiative,
            "kind": FundingAttribution.Kind.REIMBURSEMENT,
            "expense_id": expense_id,
            "municipality_id": town,
            "category_id": category,
        }
        previous = {source_id: -value for source_id, value in done[expense_id].items()}
        if previous:
            ledger.add(previous)
            rows.extend(
                FundingAttribution(source_id=source_id, amount=value, **context)
                for source_id, value in previous.items()
            )
        amount = wanted.get(expense_id, ZERO)
        if amount:
            rows.extend(
                FundingAttribution(source_id=source_id, amount=value, **context)
                for source_id, value in ledger.split(amount).items()
            )
    return len(changed)


def attribution_refresh_all() -> int:
    """Refresh the attribution of every call with a budget; return the rows written."""
    written = 0
    budgeted = Posting.objects.filter(journal__kind=Journal.Kind.BUDGET_ASSIGNED).values_list(
        "account__key", flat=True
    )
    keys = {key for key in budgeted.distinct() if key.startswith("initiative:")}
    ids = sorted(int(key.split(":")[1]) for key in keys)
    for initiative in Initiative.objects.filter(pk__in=ids).order_by("pk"):
        written += attribution_refresh(initiative=initiative).rows_written
    return written
