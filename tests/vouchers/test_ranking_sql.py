"""The ranking computed in the database gives the very ranking computed in Python."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from core.services.funding import _contribution_record as contribution_record
from tests import factories
from vouchers.models import Application, HouseholdMember, Initiative
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services import ranking
from vouchers.services.budget import initiative_assign_budget
from vouchers.services.ranking import RANK_IN_DATABASE_VENDORS, initiative_rank

pytestmark = pytest.mark.django_db

ON = date(2026, 3, 1)  # the day after 28 February: birthdays of 29 February are edge cases


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# Children on the edges of the 0–17 range at ON, and people who are not children.
BIRTH_DATES = [
    (True, _years_before(ON, 17)),  # 17 today
    (True, _years_before(ON, 18)),  # 18 today: out
    (True, _years_before(ON, 18) + timedelta(days=1)),  # 18 tomorrow: in
    (True, date(2008, 2, 29)),  # 18 since yesterday in a non-leap year: out
    (True, date(2012, 2, 29)),  # 14
    (True, ON),  # born today: 0
    (False, date(2015, 6, 1)),  # young, but not a child of the applicant
    (False, date(1960, 1, 1)),
]


def _call(*, criteria: str, rule: str, benefit_kind: str, face_value: str):
    municipality = factories.municipality()
    initiative = factories.initiative(
        municipalities=[municipality],
        budget=None,
        face_value=face_value,
        partial_allowed=benefit_kind != Initiative.BenefitKind.FIXED_BUONI,
        status=Initiative.Status.CLOSED,
    )
    Initiative.objects.filter(pk=initiative.pk).update(
        ranking_criteria=criteria,
        amount_rule=rule,
        benefit_kind=benefit_kind,
        amount_base=Decimal("100.00"),
        amount_per_member=Decimal("60.00"),
        amount_per_child=Decimal("70.00"),
        amount_cap=Decimal("330.00"),
        child_min_age=0,
        child_max_age=17,
    )
    rng = random.Random(f"{criteria}{rule}{benefit_kind}")
    # Few distinct ISEE values and submission times: ties all the way down to the id.
    isee_values = [None, Decimal("0.00"), Decimal("4500.10"), Decimal("4500.10"), Decimal("9999")]
    opened = datetime(2026, 1, 10, 9, 0, 0, 123456, tzinfo=UTC)
    times = [opened + timedelta(seconds=s, microseconds=m) for s, m in [(0, 0), (0, 1), (61, 0)]]
    member = 0
    for n in range(60):
        application = Application.objects.create(
            initiative=initiative,
            applicant=factories.beneficiary(municipality=municipality),
            municipality=municipality,
            protocol_year=2026,
            protocol_sequence=n + 1,
            channel=Application.Channel.ONLINE,
            submitted_at=rng.choice(times),
            isee=rng.choice(isee_values),
            status=Application.Status.REJECTED if n % 13 == 5 else Application.Status.APPROVED,
        )
        for is_child, birth in rng.sample(BIRTH_DATES, rng.choice([0, 0, 1, 2, 3, 4])):
            member += 1
            HouseholdMember.objects.create(
                application=application,
                fiscal_code=f"MBRXXX00A01H{member:04d}",
                first_name="Componente",
                last_name=f"N{member}",
                birth_date=birth,
                is_child=is_child,
            )
    initiative = Initiative.objects.get(pk=initiative.pk)
    _budget_with_a_gap(initiative)
    return initiative


def _budget_with_a_gap(initiative: Initiative) -> None:
    """Give the call the budget that stops at an amount a smaller one after it would fit."""
    initiative_rank(initiative=initiative, on=ON)  # no budget yet: the order only
    amounts = list(
        Application.objects.filter(initiative=initiative, rank__isnull=False)
        .order_by("rank")
        .values_list("amount", flat=True)
    )
    _unrank(initiative)
    budget = sum(amounts, Decimal("0.00")) / 2
    for position, amount in enumerate(amounts):
        later = [a for a in amounts[position + 1 :] if Decimal("0.00") < a < amount]
        if position > 3 and later:
            budget = sum(amounts[:position], Decimal("0.00")) + min(later)
            break
    budget = budget.quantize(Decimal("0.01"))
    contribution_record(
        fund=initiative.fund, funder=factories.funder(), amount=budget, received_on=ON
    )
    initiative_assign_budget(initiative=initiative, amount=budget)


def _ranking(initiative: Initiative) -> list[tuple]:
    return list(
        Application.objects.filter(initiative=initiative)
        .order_by("rank", "pk")
        .values_list("pk", "rank", "amount", "outcome", "score_key", "status")
    )


def _unrank(initiative: Initiative) -> None:
    Application.objects.filter(initiative=initiative).update(
        rank=None, amount=None, score_key=None, outcome=Application.Outcome.PENDING
    )
    Initiative.objects.filter(pk=initiative.pk).update(status=Initiative.Status.CLOSED)


CALLS = [
    # criteria, amount rule, benefit kind, face value
    ("isee_asc,household_desc,children_desc", "per_child", "voucher_card", "50.00"),
    ("children_desc,isee_asc", "base_plus_member", "voucher_card", "50.00"),
    ("household_desc", "per_member", "fixed_buoni", "150.00"),
    ("", "fixed", "voucher_card", "50.00"),
]


@pytest.mark.postgresql
@pytest.mark.skipif(
    connection.vendor not in RANK_IN_DATABASE_VENDORS,
    reason="the ranking is computed in the database on PostgreSQL only",
)
@pytest.mark.parametrize(("criteria", "rule", "kind", "face_value"), CALLS)
def test_the_database_ranks_exactly_as_python_does(monkeypatch, criteria, rule, kind, face_value):
    initiative = _call(criteria=criteria, rule=rule, benefit_kind=kind, face_value=face_value)
    monkeypatch.setattr(ranking, "RANK_IN_DATABASE_VENDORS", frozenset())
    initiative_rank(initiative=initiative, on=ON)
    in_python = _ranking(initiative)
    _unrank(initiative)
    monkeypatch.undo()
    ranked = initiative_rank(initiative=initiative, on=ON)
    in_database = _ranking(initiative)

    assert ranked.status == Initiative.Status.RANKED
    assert in_database == in_python
    # The data reach every branch: ties, zero amounts (whole buoni), and applications
    # funded after the first one the budget could not cover.
    admitted = [row for row in in_database if row[5] == Application.Status.APPROVED]
    assert [row[1] for row in admitted] == list(range(1, len(admitted) + 1))
    assert all(row[1] is None for row in in_database if row[5] == Application.Status.REJECTED)
    outcomes = [row[3] for row in admitted]
    first_waiting = outcomes.index(Application.Outcome.WAITING)
    assert Application.Outcome.FUNDED in outcomes[first_waiting:] or rule == "fixed"
    if kind == Initiative.BenefitKind.FIXED_BUONI:
        assert any(row[2] == Decimal("0.00") for row in admitted)
        assert all(
            row[3] == Application.Outcome.WAITING for row in admitted if row[2] == Decimal("0.00")
        )


def test_the_ranking_funds_later_smaller_amounts_that_still_fit_the_budget():
    """Whichever way it is computed: the first that does not fit waits, smaller ones after fit."""
    initiative = _call(
        criteria="isee_asc",
        rule="per_child",
        benefit_kind="voucher_card",
        face_value="50.00",
    )
    budget = initiative_budget_available(initiative=initiative)
    initiative_rank(initiative=initiative, on=ON)
    admitted = [row for row in _ranking(initiative) if row[5] == Application.Status.APPROVED]
    committed, expected = Decimal("0.00"), []
    for _pk, _rank, amount, _outcome, _key, _status in admitted:
        if amount > 0 and committed + amount <= budget:
            committed += amount
            expected.append(Application.Outcome.FUNDED)
        else:
            expected.append(Application.Outcome.WAITING)
    assert [row[3] for row in admitted] == expected
    keys = [row[4] for row in admitted]
    assert keys == sorted(keys)  # ISEE (no ISEE last), submission time, id
    assert keys[-1][0] == 1e12
    first_waiting = expected.index(Application.Outcome.WAITING)
    assert Application.Outcome.FUNDED in expected[first_waiting:]
