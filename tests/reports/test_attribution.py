import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import Journal, Organization
from core.money import format_euro
from core.selectors import fund_balance
from core.services.funding import FundError
from core.services.funding import _contribution_record as contribution_record
from merchants.services.redemption import voucher_redeem
from merchants.services.voids import redemption_void
from reports.attribution import attribution_refresh
from reports.funder_reach import attribution_totals, funder_reach
from tests import factories
from vouchers.models import (
    Application,
    Expense,
    FundingAttribution,
    Initiative,
    InitiativeFunding,
    ReimbursementClaim,
)
from vouchers.selectors.budget import initiative_budget_available
from vouchers.services.funding import (
    FundingError,
    initiative_funding_assign,
    initiative_set_attribution_rule,
    split_priority,
    split_pro_rata,
)

pytestmark = pytest.mark.django_db
D = Decimal


def funder(name: str, kind=Organization.FunderKind.FOUNDATION) -> Organization:
    return Organization.objects.create(kind=Organization.Kind.FUNDER, name=name, funder_kind=kind)


def funded_call(*shares: str, rule=Initiative.AttributionRule.PRO_RATA, face_value="100.00"):
    """A call with no budget of its own, financed by one contribution per share."""
    initiative = factories.initiative(budget=None, face_value=face_value)
    initiative_set_attribution_rule(initiative=initiative, rule=rule)
    sources = []
    for index, share in enumerate(shares, start=1):
        contribution = contribution_record(
            fund=initiative.fund,
            funder=funder(f"Finanziatore {index}"),
            amount=share,
            received_on=timezone.localdate(),
        )
        sources.append(
            initiative_funding_assign(
                initiative=initiative, contribution=contribution, amount=share
            )
        )
    return initiative, sources


def redeem(shop, voucher, amount: str):
    return voucher_redeem(
        till=factories.till(shop=shop),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"k-{factories.next_id()}",
    ).redemption


def by_source(initiative) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = {}
    for row in FundingAttribution.objects.filter(initiative=initiative):
        totals[row.source_id] = totals.get(row.source_id, D("0")) + row.amount
    return totals


# --- splitting -----------------------------------------------------------------------------


def test_pro_rata_split_of_odd_cents_adds_up_exactly():
    parts = split_pro_rata(D("10.00"), [(1, D("100.00")), (2, D("200.00"))], {})
    assert parts == {1: D("3.33"), 2: D("6.67")}
    three = split_pro_rata(D("0.01"), [(1, D("1")), (2, D("1")), (3, D("1"))], {})
    assert sum(three.values()) == D("0.01") and len(three) == 1


def test_pro_rata_leftover_cents_go_to_the_source_furthest_behind():
    sources = [(1, D("100.00")), (2, D("100.00"))]
    attributed: dict[int, Decimal] = {}
    for _ in range(4):
        for key, value in split_pro_rata(D("0.01"), sources, attributed).items():
            attributed[key] = attributed.get(key, D("0")) + value
    assert attributed == {1: D("0.02"), 2: D("0.02")}


def test_priority_split_fills_the_first_source_then_the_next():
    sources = [(1, D("50.00")), (2, D("100.00"))]
    assert split_priority(D("30.00"), sources, {}) == {1: D("30.00")}
    assert split_priority(D("30.00"), sources, {1: D("30.00")}) == {1: D("20.00"), 2: D("10.00")}
    assert split_priority(D("-15.00"), sources, {1: D("50.00"), 2: D("10.00")}) == {
        2: D("-10.00"),
        1: D("-5.00"),
    }


# --- assigning sources ---------------------------------------------------------------------


def test_assigning_a_source_moves_money_from_the_fund_to_the_call():
    initiative, (source,) = funded_call("300.00")
    assert source.priority == 1
    assert initiative_budget_available(initiative=initiative) == D("300.00")
    assert source.journal.postings.count() == 2


def test_a_contribution_cannot_be_assigned_beyond_its_amount():
    initiative, (source,) = funded_call("300.00")
    before = InitiativeFunding.objects.count()
    with pytest.raises(FundingError) as error:
        initiative_funding_assign(
            initiative=initiative, contribution=source.contribution, amount="0.01"
        )
    assert error.value.code == "contribution_exhausted"
    assert "0,00" in error.value.detail
    assert InitiativeFunding.objects.count() == before


def test_assigning_more_than_the_fund_holds_is_refused():
    initiative = factories.initiative(budget=None)
    with pytest.raises(FundError) as error:
        initiative_funding_assign(initiative=initiative, amount="999999.00")
    assert error.value.code == "insufficient_fund"


def test_bad_amount_is_refused_with_a_clear_error():
    initiative = factories.initiative(budget=None)
    with pytest.raises(FundingError) as error:
        initiative_funding_assign(initiative=initiative, amount="dieci")
    assert error.value.code == "invalid_amount"


# --- attribution ---------------------------------------------------------------------------


def test_redemptions_are_attributed_pro_rata_to_the_cent():
    initiative, (first, second) = funded_call("100.00", "200.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "10.00")
    redeem(shop, voucher, "0.05")
    attribution_refresh(initiative=initiative)
    rows = FundingAttribution.objects.filter(initiative=initiative)
    assert {(r.source_id, r.amount) for r in rows if r.amount > D("1")} == {
        (first.pk, D("3.33")),
        (second.pk, D("6.67")),
    }
    assert sum(r.amount for r in rows) == D("10.05")
    totals = by_source(initiative)
    assert totals[first.pk] + totals[second.pk] == D("10.05")
    assert {r.merchant_ref for r in rows} == {shop.pk}
    assert {r.municipality_id for r in rows} == {voucher.beneficiary.municipality_id}
    assert {r.category_id for r in rows} == {initiative.allowed_categories.get().pk}


def test_priority_order_consumes_source_one_first():
    initiative, (first, second) = funded_call(
        "60.00", "100.00", rule=Initiative.AttributionRule.PRIORITY
    )
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "50.00")
    attribution_refresh(initiative=initiative)
    assert by_source(initiative) == {first.pk: D("50.00")}
    redeem(shop, voucher, "30.00")
    attribution_refresh(initiative=initiative)
    assert by_source(initiative) == {first.pk: D("60.00"), second.pk: D("20.00")}


def test_a_void_reverses_exactly_the_attribution_of_its_redemption():
    initiative, (first, second) = funded_call(
        "60.00", "100.00", rule=Initiative.AttributionRule.PRIORITY
    )
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "40.00")
    mistaken = redeem(shop, voucher, "40.00")
    attribution_refresh(initiative=initiative)
    assert by_source(initiative) == {first.pk: D("60.00"), second.pk: D("20.00")}
    redemption_void(till=factories.till(shop=shop), redemption_id=mistaken.pk)
    report = attribution_refresh(initiative=initiative)
    assert report.rows_written == 2
    voids = FundingAttribution.objects.filter(kind=FundingAttribution.Kind.REDEMPTION_VOID)
    assert {(r.source_id, r.amount) for r in voids} == {
        (first.pk, D("-20.00")),
        (second.pk, D("-20.00")),
    }
    assert {r.reverses_id for r in voids} == {mistaken.journal_id}
    assert by_source(initiative) == {first.pk: D("40.00"), second.pk: D("0.00")}
    # The freed money of source 1 is used first again.
    redeem(shop, voucher, "5.00")
    attribution_refresh(initiative=initiative)
    assert by_source(initiative)[first.pk] == D("45.00")


def test_a_redemption_voided_before_the_refresh_nets_to_zero():
    initiative, _sources = funded_call("100.00", "200.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    mistaken = redeem(shop, voucher, "10.00")
    redemption_void(till=factories.till(shop=shop), redemption_id=mistaken.pk)
    attribution_refresh(initiative=initiative)
    assert all(total == 0 for total in by_source(initiative).values())
    totals = attribution_totals(initiative=initiative)
    assert totals["attributed"] == totals["redeemed"] == D("0.00")


def test_refresh_is_idempotent():
    initiative, _sources = funded_call("100.00", "200.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "12.34")
    first_run = attribution_refresh(initiative=initiative)
    assert first_run.rows_written == 2
    count = FundingAttribution.objects.count()
    second_run = attribution_refresh(initiative=initiative)
    assert second_run.rows_written == 0
    assert FundingAttribution.objects.count() == count


def test_budget_assigned_from_the_fund_as_a_whole_is_a_source_too():
    initiative = factories.initiative(budget="500.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "7.00")
    attribution_refresh(initiative=initiative)
    source = InitiativeFunding.objects.get(initiative=initiative)
    assert source.contribution is None and source.fund_id == initiative.fund_id
    assert source.amount == D("500.00")
    assert by_source(initiative) == {source.pk: D("7.00")}
    attribution_refresh(initiative=initiative)
    assert InitiativeFunding.objects.filter(initiative=initiative).count() == 1


def test_the_rule_cannot_change_once_spending_is_attributed():
    initiative, _sources = funded_call("100.00")
    shop = factories.merchant(initiative=initiative)
    redeem(shop, factories.voucher(initiative=initiative), "1.00")
    attribution_refresh(initiative=initiative)
    with pytest.raises(FundingError) as error:
        initiative_set_attribution_rule(
            initiative=initiative, rule=Initiative.AttributionRule.PRIORITY
        )
    assert error.value.code == "rule_locked"
    initiative.refresh_from_db()
    assert initiative.attribution_rule == Initiative.AttributionRule.PRO_RATA


def reimbursement_call(*shares):
    initiative, sources = funded_call(*shares)
    initiative.benefit_kind = Initiative.BenefitKind.REIMBURSEMENT
    initiative.save(update_fields=["benefit_kind"])
    holder = factories.beneficiary(municipality=initiative.municipalities.first())
    application = Application.objects.create(
        initiative=initiative,
        applicant=holder,
        municipality=holder.municipality,
        protocol_year=2026,
        protocol_sequence=factories.next_id(),
        channel=Application.Channel.DESK,
        status=Application.Status.APPROVED,
        outcome=Application.Outcome.FUNDED,
        submitted_at=timezone.now(),
    )
    claim = ReimbursementClaim.objects.create(
        initiative=initiative, beneficiary=holder, application=application
    )
    return initiative, sources, claim


def expense(claim, amount, **extra):
    return Expense.objects.create(
        claim=claim,
        amount=D(amount),
        spent_on=timezone.localdate(),
        category=claim.initiative.allowed_categories.get(),
        receipt=SimpleUploadedFile("s.pdf", b"%PDF-1.4"),
        receipt_content_type="application/pdf",
        **extra,
    )


def test_approved_reimbursements_are_attributed_and_a_reduction_is_reattributed():
    initiative, (first, second), claim = reimbursement_call("100.00", "300.00")
    approved = expense(claim, "40.01", status=Expense.Status.APPROVED)
    expense(claim, "10.00", status=Expense.Status.REFUSED)
    attribution_refresh(initiative=initiative)
    assert by_source(initiative) == {}  # the claim itself is not approved yet
    claim.status = ReimbursementClaim.Status.PARTLY_APPROVED
    claim.save(update_fields=["status"])
    attribution_refresh(initiative=initiative)
    assert sum(by_source(initiative).values()) == D("40.01")
    assert by_source(initiative)[first.pk] == D("10.00")
    approved.status = Expense.Status.REDUCED
    approved.approved_amount = D("20.00")
    approved.save(update_fields=["status", "approved_amount"])
    attribution_refresh(initiative=initiative)
    assert by_source(initiative) == {first.pk: D("5.00"), second.pk: D("15.00")}
    assert attribution_refresh(initiative=initiative).rows_written == 0
    totals = attribution_totals(initiative=initiative)
    assert totals["reimbursed"] == totals["attributed"] == D("20.00")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shares=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=4),
    spends=st.lists(st.integers(min_value=1, max_value=3_000), min_size=1, max_size=6),
    voided=st.sets(st.integers(min_value=0, max_value=5), max_size=3),
    priority=st.booleans(),
)
def test_attribution_equals_net_redeemed_to_the_cent(shares, spends, voided, priority):
    rule = Initiative.AttributionRule.PRIORITY if priority else Initiative.AttributionRule.PRO_RATA
    initiative, _sources = funded_call(
        *(f"{D(cents) / 100:.2f}" for cents in shares), rule=rule, face_value="200.00"
    )
    # A last tranche from the fund as a whole, so that the voucher is always covered.
    initiative_funding_assign(initiative=initiative, amount="200.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redemptions = []
    for index, cents in enumerate(spends):
        redemptions.append(redeem(shop, voucher, f"{D(cents) / 100:.2f}"))
        if index % 2:
            attribution_refresh(initiative=initiative)
    for index in voided:
        if index < len(redemptions):
            redemption_void(till=factories.till(shop=shop), redemption_id=redemptions[index].pk)
    attribution_refresh(initiative=initiative)
    totals = attribution_totals(initiative=initiative)
    assert totals["attributed"] == totals["redeemed"]
    assert totals["redeemed"] == sum(
        (r.amount for i, r in enumerate(redemptions) if i not in voided), D("0.00")
    )
    assert all(
        row.amount == row.amount.quantize(D("0.01")) for row in FundingAttribution.objects.all()
    )
    assert attribution_refresh(initiative=initiative).rows_written == 0


def test_funder_reach_says_which_shops_and_towns_the_money_reached():
    initiative, (first, second) = funded_call("100.00", "300.00")
    shop = factories.merchant(initiative=initiative)
    other = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "40.00")
    redeem(other, voucher, "20.00")
    voided = redeem(other, voucher, "8.00")
    redemption_void(till=factories.till(shop=other), redemption_id=voided.pk)
    rows = funder_reach(funder=first.contribution.funder, group_by="merchant", refresh=True)
    assert [(r.label, r.amount, r.count) for r in rows] == [
        (shop.name, D("10.00"), 1),
        (other.name, D("5.00"), 1),
    ]
    towns = funder_reach(funder=second.contribution.funder, group_by="municipality")
    assert [(r.label, r.amount, r.count) for r in towns] == [
        (voucher.beneficiary.municipality.name, D("45.00"), 2)
    ]
    assert funder_reach(funder=funder("Nessuno"), group_by="category") == []
    with pytest.raises(FundingError):
        funder_reach(funder=first.contribution.funder, group_by="iban")


def booked_on(journal_id: int, moment: datetime) -> None:
    Journal.objects.filter(pk=journal_id).update(created_at=moment)


def test_funder_reach_over_a_period_counts_what_was_booked_on_those_days():
    initiative, (first, _second) = funded_call("100.00", "300.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    march_sale = redeem(shop, voucher, "40.00")
    # 23:30 in Rome on 31 March is 21:30 UTC: still March for the report.
    booked_on(march_sale.journal_id, datetime(2026, 3, 31, 23, 30, tzinfo=rome))
    april_sale = redeem(shop, voucher, "20.00")
    booked_on(april_sale.journal_id, datetime(2026, 4, 5, 10, 0, tzinfo=rome))
    voided = redeem(shop, voucher, "8.00")
    booked_on(voided.journal_id, datetime(2026, 3, 20, 10, 0, tzinfo=rome))
    redemption_void(till=factories.till(shop=shop), redemption_id=voided.pk)
    void_journal = Journal.objects.filter(kind=Journal.Kind.REDEMPTION_VOID).latest("pk")
    booked_on(void_journal.pk, datetime(2026, 4, 2, 9, 0, tzinfo=rome))
    attribution_refresh(initiative=initiative)
    funder_first = first.contribution.funder

    def reach(since=None, until=None):
        rows = funder_reach(funder=funder_first, group_by="municipality", since=since, until=until)
        return [(row.amount, row.count) for row in rows]

    # A quarter of each movement is the first funder's: the sale voided in April counts in
    # March and is taken back in April, as the ledger books it.
    assert reach(date(2026, 3, 1), date(2026, 3, 31)) == [(D("12.00"), 2)]
    assert reach(date(2026, 4, 1), date(2026, 4, 30)) == [(D("3.00"), 0)]
    assert reach() == [(D("15.00"), 2)]
    assert reach(since=date(2026, 4, 1)) == reach(date(2026, 4, 1), date(2026, 4, 30))
    assert reach(until=date(2026, 3, 31)) == [(D("12.00"), 2)]
    assert reach(date(2026, 4, 1), date(2026, 4, 1)) == []
    assert reach(date(2026, 4, 2), date(2026, 4, 2)) == [(D("-2.00"), -1)]
    with pytest.raises(FundingError) as refused:
        reach(date(2026, 4, 30), date(2026, 4, 1))
    assert refused.value.code == "invalid_period"
    with pytest.raises(FundingError) as refused:
        reach(date(1, 1, 1), date(9999, 12, 31))
    assert refused.value.code == "period_out_of_range"


def shop_in_two_categories_call(*shares: str):
    """Alimentari and Farmacia allowed: the grocer takes 30, the shop selling both 20 (and
    5 voided), the chemist 50."""
    initiative, sources = funded_call(*shares)
    food = factories.category(slug="alimentari")
    medicines = factories.category(slug="farmacia")
    initiative.allowed_categories.set([food, medicines])
    grocer = factories.merchant(initiative=initiative, categories=[food])
    both = factories.merchant(initiative=initiative, categories=[medicines, food])
    chemist = factories.merchant(initiative=initiative, categories=[medicines])
    first = factories.voucher(initiative=initiative)
    second = factories.voucher(initiative=initiative)
    redeem(grocer, first, "30.00")
    redeem(both, first, "20.00")
    voided = redeem(both, second, "5.00")
    redemption_void(till=factories.till(shop=both), redemption_id=voided.pk)
    redeem(chemist, second, "50.00")
    return initiative, sources, both, food, medicines


def staff_redeemed_by_category(initiative) -> tuple[dict[str, Decimal], Decimal]:
    from reports.rendicontazione import initiative_report
    from reports.report import Dimension

    report = initiative_report(initiative=initiative, dimension=Dimension.CATEGORY)
    return {row.label: row.figures["redeemed"] for row in report.rows}, report.totals["redeemed"]


def funder_reach_by_category(funder_or_none, initiative, refresh=False) -> dict[str, Decimal]:
    rows = funder_reach(
        funder=funder_or_none, initiative=initiative, group_by="category", refresh=refresh
    )
    return {row.label: row.amount for row in rows}


def test_a_shop_in_two_categories_counts_once_and_the_same_in_both_reports():
    initiative, (source,), both, food, _medicines = shop_in_two_categories_call("1000.00")
    staff, total = staff_redeemed_by_category(initiative)
    # Counted once, under the first allowed category by name: the rows add up to the total.
    assert staff == {"Alimentari": D("50.00"), "Farmacia": D("50.00")}
    assert sum(staff.values()) == total == D("100.00")

    reach = funder_reach_by_category(source.contribution.funder, initiative, refresh=True)
    assert reach == staff
    counts = {
        row.label: row.count
        for row in funder_reach(funder=source.contribution.funder, group_by="category")
    }
    assert counts == {"Alimentari": 2, "Farmacia": 1}  # the voided redemption is not counted
    attributed = FundingAttribution.objects.filter(initiative=initiative, merchant_ref=both.pk)
    assert {row.category_id for row in attributed} == {food.pk}


def test_the_category_split_of_every_source_adds_up_to_the_staff_report():
    initiative, sources, _both, _food, _medicines = shop_in_two_categories_call("300.00", "700.00")
    staff, _total = staff_redeemed_by_category(initiative)
    assert funder_reach_by_category(None, initiative, refresh=True) == staff
    per_funder = [
        funder_reach_by_category(source.contribution.funder, initiative) for source in sources
    ]
    assert {
        label: sum((shares.get(label, D("0")) for shares in per_funder), D("0")) for label in staff
    } == staff


def test_the_funder_report_follows_a_shop_that_changes_categories_like_the_staff_report():
    initiative, (source,), both, _food, medicines = shop_in_two_categories_call("1000.00")
    attribution_refresh(initiative=initiative)
    both.categories.set([medicines])
    staff, _total = staff_redeemed_by_category(initiative)
    assert staff == {"Alimentari": D("30.00"), "Farmacia": D("70.00")}
    assert funder_reach_by_category(source.contribution.funder, initiative) == staff


def test_the_funder_report_shows_his_share_of_the_call_and_of_its_spending():
    from reports.rendicontazione import funder_report
    from reports.report import Dimension

    initiative, (first, second) = funded_call("100.00", "300.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    redeem(shop, voucher, "40.00")
    attribution_refresh(initiative=initiative)

    report = funder_report(funder=second.contribution.funder)
    assert report.dimension == Dimension.FUNDER
    assert [column.key for column in report.columns][:2] == ["funder_assigned", "funder_spent"]
    (row,) = report.rows
    assert row.figures["funder_assigned"] == D("300.00")
    assert row.figures["funder_spent"] == D("30.00")  # three quarters of €40, pro rata
    assert row.figures["redeemed"] == D("40.00")  # the whole call, beside his share
    first_row = funder_report(funder=first.contribution.funder).rows[0]
    assert (first_row.figures["funder_assigned"], first_row.figures["funder_spent"]) == (
        D("100.00"),
        D("10.00"),
    )


def test_attribute_funding_command_refreshes_every_call(capsys):
    initiative, _sources = funded_call("100.00")
    redeem(
        factories.merchant(initiative=initiative), factories.voucher(initiative=initiative), "3.00"
    )
    call_command("attribute_funding")
    assert "1" in capsys.readouterr().out
    assert attribution_totals(initiative=initiative)["attributed"] == D("3.00")
    call_command("attribute_funding", "--bando", str(initiative.pk))
    assert FundingAttribution.objects.filter(initiative=initiative).count() == 1
    assert fund_balance(fund_id=initiative.fund_id) > 0


# --- admin ---------------------------------------------------------------------------------


def staff_member(role, organization):
    from core.roles import membership_grant

    person = factories.user()
    membership_grant(user=person, organization=organization, role=role)
    return person


def test_funder_report_shows_a_funder_only_his_own_contributions(client):
    from core.models import Role

    initiative, (first, second) = funded_call("100.00", "300.00")
    shop = factories.merchant(initiative=initiative)
    redeem(shop, factories.voucher(initiative=initiative), "40.00")
    url = reverse("admin:vouchers_funder_reach")
    mine, theirs = first.contribution.funder, second.contribution.funder
    client.force_login(staff_member(Role.FUNDER, mine))

    response = client.get(url, {"funder": mine.pk, "group_by": "merchant"})
    assert response.status_code == 200
    assert [row[1:] for row in response.context["table"]["rows"]] == [[shop.name, "€\xa010,00", 1]]
    assert list(response.context["form"].fields["funder"].queryset) == [mine]

    refused = client.get(url, {"funder": theirs.pk, "group_by": "merchant"})
    assert refused.status_code == 200 and refused.context["table"] is None
    assert "Scegli uno dei finanziatori" in refused.content.decode()
    other_contribution = client.get(
        url, {"funder": mine.pk, "contribution": second.contribution.pk, "group_by": "merchant"}
    )
    assert other_contribution.context["table"] is None

    download = client.get(url, {"funder": mine.pk, "group_by": "municipality", "formato": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert "10,00" in download.content.decode("utf-8-sig")
    xlsx = client.get(url, {"funder": mine.pk, "group_by": "category", "formato": "xlsx"})
    assert xlsx.content.startswith(b"PK")


def test_funder_report_for_a_period_in_the_page_and_the_files(client):
    from core.models import Role

    initiative, (first, _second) = funded_call("100.00", "300.00")
    shop = factories.merchant(initiative=initiative)
    voucher = factories.voucher(initiative=initiative)
    earlier = redeem(shop, voucher, "40.00")
    booked_on(earlier.journal_id, timezone.now() - timedelta(days=40))
    redeem(shop, voucher, "20.00")
    mine = first.contribution.funder
    client.force_login(staff_member(Role.FUNDER, mine))
    url = reverse("admin:vouchers_funder_reach")
    today = timezone.localdate()
    since = today - timedelta(days=7)
    query = {
        "funder": mine.pk,
        "group_by": "merchant",
        "since": since.strftime("%d/%m/%Y"),
        "until": today.strftime("%d/%m/%Y"),
    }
    response = client.get(url, query)
    assert [row[1:] for row in response.context["table"]["rows"]] == [[shop.name, "€\xa05,00", 1]]
    page = response.content.decode()
    assert f"dal {since:%d/%m/%Y} al {today:%d/%m/%Y}" in page
    whole = client.get(url, {"funder": mine.pk, "group_by": "merchant"})
    assert [row[2] for row in whole.context["table"]["rows"]] == ["€\xa015,00"]

    download = client.get(url, {**query, "formato": "csv"})
    assert f"-dal-{since:%Y-%m-%d}-al-{today:%Y-%m-%d}-" in download["Content-Disposition"]
    assert "5,00" in download.content.decode("utf-8-sig")
    assert "15,00" not in download.content.decode("utf-8-sig")

    backwards = client.get(url, {**query, "since": query["until"], "until": query["since"]})
    assert backwards.context["table"] is None
    assert "La data finale viene prima di quella iniziale." in backwards.content.decode()
    for far in ("01/01/0001", "31/12/9999"):
        outside = client.get(url, {**query, "since": far, "until": far})
        assert outside.status_code == 200 and outside.context["table"] is None
        assert "Scegli un giorno tra il 01/01/2000 e il 31/12/2099." in outside.content.decode()
    nonsense = client.get(url, {**query, "since": "31/02/2026"})
    assert nonsense.status_code == 200 and nonsense.context["table"] is None
    assert "Data non valida: controlla giorno, mese e anno." in nonsense.content.decode()


def test_funder_report_is_closed_to_staff_without_a_funding_role(client):
    from core.models import Role

    town = factories.municipality()
    client.force_login(staff_member(Role.DESK_OPERATOR, town))
    assert client.get(reverse("admin:vouchers_funder_reach")).status_code == 404


def test_admin_adds_a_funding_source_through_the_service(client):
    initiative = factories.initiative(budget=None)
    contribution = contribution_record(
        fund=initiative.fund,
        funder=funder("Regione"),
        amount="500.00",
        received_on=timezone.localdate(),
    )
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    add = reverse("admin:vouchers_initiativefunding_add")
    too_much = client.post(
        add,
        {"initiative": initiative.pk, "contribution": contribution.pk, "amount": "600.00"},
        follow=True,
    )
    assert "ancora" in too_much.content.decode()
    assert not InitiativeFunding.objects.filter(initiative=initiative).exists()
    response = client.post(
        add, {"initiative": initiative.pk, "contribution": contribution.pk, "amount": "200.00"}
    )
    assert response.status_code == 302
    source = InitiativeFunding.objects.get(initiative=initiative)
    assert (source.contribution, source.amount, source.priority) == (contribution, D("200.00"), 1)
    assert initiative_budget_available(initiative=initiative) == D("200.00")
    listing = client.get(reverse("admin:vouchers_initiativefunding_changelist"))
    assert listing.status_code == 200 and "Regione" in listing.content.decode()
    detail = client.get(reverse("admin:vouchers_initiativefunding_change", args=[source.pk]))
    assert detail.status_code == 200 and "Regione" in detail.content.decode()
    assert client.get(add).status_code == 200
    rule_page = reverse("admin:vouchers_initiativefunding_attribution_rule_set")
    assert client.get(rule_page).status_code == 200
    changed = client.post(
        rule_page, {"confirm": "yes", "initiative": initiative.pk, "rule": "priority"}
    )
    assert changed.status_code == 302
    initiative.refresh_from_db()
    assert initiative.attribution_rule == Initiative.AttributionRule.PRIORITY


def test_demo_calls_have_two_sources_and_their_spending_attributed():
    from reports.demo.build import seed_demo
    from reports.demo.data import FUNDERS

    seed_demo()
    regione = Organization.objects.get(name=FUNDERS["regione"][0])
    fondazione = Organization.objects.get(name=FUNDERS["fondazione"][0])
    for initiative in Initiative.objects.all():
        assert initiative.funding_sources.count() == 2
        totals = attribution_totals(initiative=initiative)
        assert totals["attributed"] == totals["redeemed"] + totals["reimbursed"]
    regional_rows = funder_reach(funder=regione, group_by="merchant")
    foundation_rows = funder_reach(funder=fondazione, group_by="merchant")
    assert regional_rows and foundation_rows
    assert sum(r.amount for r in regional_rows) > sum(r.amount for r in foundation_rows)


def test_funding_sources_list_takes_the_same_few_queries_with_many_rows(
    client, django_assert_max_num_queries
):
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    url = reverse("admin:vouchers_initiativefunding_changelist")
    for _ in range(12):
        initiative, _sources = funded_call("10.00", "20.00", face_value="30.00")
        redeem(
            factories.merchant(initiative=initiative),
            factories.voucher(initiative=initiative),
            "1.00",
        )
        attribution_refresh(initiative=initiative)
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 24
    assert "€\xa00,33" in response.content.decode()


def test_the_celery_tasks_attribute_new_spending():
    from reports.tasks import attribute_funding, attribute_initiative_funding

    initiative, _sources = funded_call("100.00")
    redeem(
        factories.merchant(initiative=initiative), factories.voucher(initiative=initiative), "4.00"
    )
    assert attribute_initiative_funding.delay(initiative.pk).get() == 1
    assert attribute_funding.delay().get() == 0
    assert attribution_totals(initiative=initiative)["attributed"] == D("4.00")


def test_the_dashboard_counts_a_shop_of_two_categories_once_as_the_reports_do(admin_client):
    initiative, _sources, _both, _food, _medicines = shop_in_two_categories_call("1000.00")
    staff, total = staff_redeemed_by_category(initiative)
    response = admin_client.get(reverse("admin:index"), {"aggiorna": "1"})
    rows = dict(response.context["category_table"]["rows"])
    assert rows == {
        name: format_euro(amount).replace(" ", "\xa0") for name, amount in staff.items()
    }
    assert sum(staff.values()) == total
    assert "le righe sommano la spesa" in response.content.decode()


def test_the_dashboards_shops_without_a_category_are_named_in_the_readers_language(
    admin_client,
):
    initiative, _sources = funded_call("1000.00")
    shop = factories.merchant(initiative=initiative)
    redeem(shop, factories.voucher(initiative=initiative), "12.00")
    shop.categories.clear()  # its categories removed since
    italian = admin_client.get(reverse("admin:index"), {"aggiorna": "1"})
    assert dict(italian.context["category_table"]["rows"]) == {"Senza categoria": "€\xa012,00"}
    # The figures come from the cache now, kept for every reader.
    english = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")
    assert dict(english.context["category_table"]["rows"]) == {"No category": "€\xa012.00"}
