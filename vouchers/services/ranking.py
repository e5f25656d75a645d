"""The ranking of a closed call, and the amount each application is entitled to.

The ranking rules, applied by both paths below (``_rank_in_python`` everywhere, and
``_rank_in_database`` with the SQL of ``vouchers/sql/ranking.sql`` on PostgreSQL, where it
meets the speed goal of ``bench/issue.py``; ``tests/vouchers/test_ranking_sql.py`` checks that
the two give the same ranking):

1. Only the admitted applications (approved) are ranked.
2. Each one's amount is the call's amount rule for its household (the applicant plus the
   members) and its children in the call's age range on the ranking day, within the call's
   cap; a call of fixed buoni gives whole buoni only (``_entitled_amount``, always in Python).
3. The order is the call's criteria, in the call's order (ISEE ascending, an application
   without ISEE last; household size descending; children descending), then the submission
   time and the id, so no two tie. The key is stored as ``score_key`` and the position as
   ``rank``.
4. In that order, every application with an amount is funded while the running total of the
   amounts stays within the call's budget; after the first that does not fit, the later ones
   small enough to fit what is left are funded, in order, each taking its share. The rest wait.
"""

from collections.abc import Callable, Iterable
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone

from core.bulk import bulk_set
from core.money import ZERO
from vouchers.errors import ProgrammeError
from vouchers.models import (
    Application,
    HouseholdMember,
    Initiative,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.initiatives import _guard_status, _locked, _set_status

RANKING_SQL = Path(__file__).resolve().parent.parent / "sql" / "ranking.sql"


class HouseholdPerson(Protocol):
    """A household member as typed in an application (``MemberData``) or stored with it."""

    @property
    def birth_date(self) -> date: ...
    @property
    def is_child(self) -> bool: ...


def _child_ages(initiative: Initiative) -> tuple[int, int]:
    """The ages, in whole years and both included, of the children the call counts."""
    low = initiative.child_min_age if initiative.child_min_age is not None else 0
    high = initiative.child_max_age if initiative.child_max_age is not None else 200
    return low, high


def _age(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def children_in_range(initiative: Initiative, members: Iterable[HouseholdPerson], on: date) -> int:
    low, high = _child_ages(initiative)
    return sum(
        1 for member in members if member.is_child and low <= _age(member.birth_date, on) <= high
    )


def application_amount(*, initiative: Initiative, application: Application, on: date) -> Decimal:
    """Compute what an application is entitled to by the call's amount rule and cap."""
    members = list(application.members.all())
    household = 1 + len(members)
    children = children_in_range(
        initiative,
        members,
        on,
    )
    return _entitled_amount(initiative, household, children)


def _entitled_amount(initiative: Initiative, household: int, children: int) -> Decimal:
    """The amount rule and cap of the call for a household of this size and children."""
    rule = initiative.amount_rule
    if rule == Initiative.AmountRule.FIXED:
        amount = initiative.amount_base
    elif rule == Initiative.AmountRule.PER_MEMBER:
        amount = initiative.amount_per_member * household
    elif rule == Initiative.AmountRule.BASE_PLUS_MEMBER:
        amount = initiative.amount_base + initiative.amount_per_member * (household - 1)
    else:
        amount = initiative.amount_base + initiative.amount_per_child * children
    if initiative.amount_cap is not None:
        amount = min(amount, initiative.amount_cap)
    if initiative.benefit_kind == Initiative.BenefitKind.FIXED_BUONI:
        # Whole buoni only: the amount is a multiple of the face value.
        count = (amount / initiative.face_value).to_integral_value(rounding=ROUND_FLOOR)
        amount = initiative.face_value * count
    return amount.quantize(Decimal("0.01"))


# Where each ranking criterion sits in an application's ranking values (see initiative_rank).
_CRITERION_POSITION = {"isee_asc": 0, "household_desc": 1, "children_desc": 2}


def _ranking_key(criteria: list[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Return what picks an application's sort key from its ranking values.

    The values are ``(ISEE or 1e12, -household size, -children, submission timestamp, id)``;
    the key is the call's criteria in order, then submission time and id, so no two tie.
    """
    return itemgetter(*(_CRITERION_POSITION[c] for c in criteria if c in _CRITERION_POSITION), 3, 4)


def _households(initiative: Initiative, on: date) -> dict[int, tuple[int, int]]:
    """Map each admitted application with members to (household size, children in range)."""
    low, high = _child_ages(initiative)
    sizes: dict[int, list[int]] = {}
    members = (
        HouseholdMember.objects.filter(
            application__initiative=initiative, application__status=Application.Status.APPROVED
        )
        .order_by()
        .values_list("application_id", "is_child", "birth_date")
    )
    for application_id, is_child, birth_date in members:
        size = sizes.get(application_id)
        if size is None:
            size = sizes[application_id] = [1, 0]
        size[0] += 1
        if is_child and low <= _age(birth_date, on) <= high:
            size[1] += 1
    return {application_id: (size[0], size[1]) for application_id, size in sizes.items()}


# Databases on which a ranking is computed and written by one SQL statement (window
# functions, jsonb): no round trip of every application through Python.
RANK_IN_DATABASE_VENDORS = frozenset({"postgresql"})


def initiative_rank(*, initiative: Initiative, on: date | None = None) -> Initiative:
    """Rank the admitted applications; the budget funds the top, the rest waits."""
    on = on or timezone.localdate()
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.CLOSED)
        pending = initiative.applications.filter(
            status__in=[Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED]
        ).count()
        if pending:
            raise ProgrammeError("applications_pending", count=pending)
        available = initiative_budget_available(initiative=initiative)
        if connection.vendor in RANK_IN_DATABASE_VENDORS:
            _rank_in_database(initiative, on, available)
        else:
            _rank_in_python(initiative, on, available)
        return _set_status(initiative, Initiative.Status.RANKED)


def _rank_in_python(initiative: Initiative, on: date, available: Decimal) -> None:
    """Score, sort and split the admitted applications in Python; write them in one go.

    The rules of the module's docstring; ``_rank_in_database`` is the twin in SQL.
    """
    # Only the columns the ranking reads, and the household sizes in one query, keep this
    # linear: a call can have hundreds of thousands of applications.
    households = _households(initiative, on)
    ranking_key = _ranking_key(initiative.ranking_criterion_list)
    amounts: dict[tuple[int, int], Decimal] = {}
    scored = []
    for pk, isee, submitted_at in (
        initiative.applications.filter(status=Application.Status.APPROVED)
        .order_by()
        .values_list("pk", "isee", "submitted_at")
    ):
        household, children = households.get(pk, (1, 0))
        amount = amounts.get((household, children))
        if amount is None:
            amount = amounts[household, children] = _entitled_amount(
                initiative, household, children
            )
        values = (
            float(isee) if isee is not None else 1e12,
            -household,
            -children,
            submitted_at.timestamp(),
            pk,
        )
        scored.append((ranking_key(values), pk, amount))
    scored.sort()  # keys end with the id: no two are equal
    committed = ZERO
    funded, waiting = Application.Outcome.FUNDED, Application.Outcome.WAITING
    ranking = []
    for position, (key, pk, amount) in enumerate(scored, start=1):
        if amount > ZERO and committed + amount <= available:
            committed += amount
            ranking.append((pk, amount, key, position, funded))
        else:
            ranking.append((pk, amount, key, position, waiting))
    # score_key: the key tuple goes to the JSON column as the same array as ever.
    bulk_set(Application, ["amount", "score_key", "rank", "outcome"], ranking)


# The SQL of each ranking value, as _rank_in_python computes it (the same order, the same
# JSON array in score_key). "1000000000000.0" is the key of an application without ISEE.
_CRITERION_SQL = {
    "isee_asc": "COALESCE(a.isee, 1000000000000.0)",
    "household_desc": "-COALESCE(h.household, 1)",
    "children_desc": "-COALESCE(h.children, 0)",
}


def _ranking_statements() -> dict[str, str]:
    """The named statements of ``vouchers/sql/ranking.sql``, without their comments."""
    statements: dict[str, str] = {}
    name = None
    for line in RANKING_SQL.read_text().splitlines():
        if line.startswith("-- name: "):
            name = line.removeprefix("-- name: ").strip()
            statements[name] = ""
        elif name is not None and line.strip() and not line.lstrip().startswith("--"):
            statements[name] += line + "\n"
    return {name: sql.strip().rstrip(";") for name, sql in statements.items()}


def _rank_in_database(initiative: Initiative, on: date, available: Decimal) -> None:
    """Score, sort, split and write the admitted applications in the database.

    The rules of the module's docstring, as ``_rank_in_python`` applies them, by the
    statements of ``vouchers/sql/ranking.sql``: household sizes by one aggregate, amounts by
    the call's rule for each (household, children) pair found, positions and running totals
    by one window over the call's order, then one ``UPDATE … FROM``. Only the applications
    after the first that the budget cannot cover, and small enough to fit what is left, come
    back to Python, to be funded in order while the rest allows.
    """
    sql = _ranking_statements()
    low, high = _child_ages(initiative)
    approved = Application.Status.APPROVED
    criteria = [_CRITERION_SQL[c] for c in initiative.ranking_criterion_list if c in _CRITERION_SQL]
    values = [*criteria, "EXTRACT(EPOCH FROM a.submitted_at)", "a.id"]
    with connection.cursor() as cursor:
        # The sort of the whole call in memory rather than in temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            sql["households"],
            {
                "year": on.year,
                "month": on.month,
                "day": on.day,
                "low": low,
                "high": high,
                "initiative": initiative.pk,
                "approved": approved,
            },
        )
        cursor.execute("ANALYZE application_household")
        cursor.execute(sql["household_pairs"])
        pairs = {(1, 0), *cursor.fetchall()}
        households, children, amounts = [], [], []
        for household, count in sorted(pairs):
            households.append(household)
            children.append(count)
            amounts.append(_entitled_amount(initiative, household, count))
        cursor.execute(
            # Only the criteria's SQL of _CRITERION_SQL goes in: no text from a user.
            sql["ranking"].format(score_values=", ".join(values)),
            {
                "households": households,
                "children": children,
                "amounts": amounts,
                "initiative": initiative.pk,
                "approved": approved,
            },
        )
        cursor.execute("ANALYZE application_ranking")
        # Up to the first application the budget cannot cover, every one with an amount is
        # funded (its running total is within the budget); after it, those that fit what is
        # left, in order, each taking its share: few, and the only rows read back.
        cursor.execute(sql["funded_in_full"], {"available": available})
        left = available - cursor.fetchone()[0]
        cursor.execute(sql["fitting_after"], {"available": available, "left": left})
        also_funded = []
        for pk, amount in cursor.fetchall():
            if amount <= left:
                also_funded.append(pk)
                left -= amount
        cursor.execute(
            sql["write"],
            {
                "available": available,
                "also": also_funded,
                "funded": Application.Outcome.FUNDED,
                "waiting": Application.Outcome.WAITING,
            },
        )
        # Dropped now, not at commit: a caller's transaction may rank another call.
        cursor.execute(sql["drop"])
