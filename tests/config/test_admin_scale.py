"""The admin at city scale: figures kept a few minutes, searches by ids, counts that stop."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin.ledger import JournalAdmin
from core.models import Journal, Posting
from core.paginator import CappedCount, CappedCountPaginator
from merchants.models import Redemption
from tests import factories
from tests.config.test_admin_pages import admin_url, redeem
from vouchers.models import Initiative, Voucher

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls():
    """Two calls of two towns; one joint; vouchers issued and partly spent."""
    roma, bari = factories.municipality(name="Roma"), factories.municipality(name="Bari")
    joint = factories.initiative(municipalities=[roma, bari])
    only_bari = factories.initiative(municipalities=[bari])
    shop = factories.merchant(initiative=joint, municipalities=[roma, bari])
    cashier = factories.cashier(shop=shop)
    holder = factories.beneficiary(municipality=roma, last_name="Bianchi")
    first = factories.voucher(initiative=joint, holder=holder)
    second = factories.voucher(initiative=joint)
    factories.voucher(initiative=only_bari)
    redeem(voucher=first, shop=shop, person=cashier, amount="10.00")
    redeem(voucher=first, shop=shop, person=cashier, amount="2.50")
    redeem(voucher=second, shop=shop, person=cashier, amount="7.25")
    return {
        "roma": roma,
        "bari": bari,
        "joint": joint,
        "only_bari": only_bari,
        "shop": shop,
        "cashier": cashier,
        "holder": holder,
        "first": first,
        "second": second,
    }


def direct_call_figures(call: Initiative) -> dict:
    confirmed = Redemption.objects.filter(
        voucher__initiative=call, status=Redemption.Status.CONFIRMED
    )
    return {
        "issued": Voucher.objects.filter(initiative=call).count(),
        "active": Voucher.objects.filter(initiative=call, status=Voucher.Status.ACTIVE).count(),
        "used": confirmed.values("voucher").distinct().count(),
        "spent": sum((r.amount for r in confirmed), Decimal("0.00")),
    }


def call_row(response, call: Initiative) -> dict:
    cl = response.context["cl"]
    model_admin = cl.model_admin
    obj = next(row for row in cl.result_list if row.pk == call.pk)
    return {
        "issued": model_admin.issued_count(obj),
        "active": model_admin.active_count(obj),
        "used": model_admin.redeemed_count(obj),
        "spent": model_admin.spent_display(obj),
    }


# --- the calls list ----------------------------------------------------------------------


def test_calls_list_shows_each_calls_figures_equal_to_a_direct_count(admin_client, calls):
    response = admin_client.get(admin_url(Initiative, "changelist"))
    assert response.status_code == 200
    for call in [calls["joint"], calls["only_bari"]]:
        expected = direct_call_figures(call)
        shown = call_row(response, call)
        assert shown["issued"] == expected["issued"]
        assert shown["active"] == expected["active"]
        assert shown["used"] == expected["used"]
        assert shown["spent"] == response.context["cl"].model_admin.spent_display(call)
    joint = call_row(response, calls["joint"])
    assert (joint["issued"], joint["used"]) == (2, 2)
    assert "19,75" in str(joint["spent"])


def test_calls_list_reads_no_redemption_per_row(admin_client, calls):
    admin_client.get(admin_url(Initiative, "changelist"))  # the figures are now kept
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(admin_url(Initiative, "changelist"))
    assert not [q for q in queries if "merchants_redemption" in q["sql"]]
    assert not [q for q in queries if "vouchers_voucher" in q["sql"]]


def test_calls_list_by_municipality_needs_no_distinct_and_finds_joint_calls(admin_client, calls):
    url = admin_url(Initiative, "changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"municipalities__id__exact": calls["roma"].pk})
    assert {obj.pk for obj in response.context["cl"].result_list} == {calls["joint"].pk}
    assert not [q for q in queries if "SELECT DISTINCT" in q["sql"].upper()]
    response = admin_client.get(url, {"municipalities__id__exact": calls["bari"].pk})
    assert {obj.pk for obj in response.context["cl"].result_list} == {
        calls["joint"].pk,
        calls["only_bari"].pk,
    }


def test_calls_list_with_a_municipality_that_is_no_number_changes_nothing(admin_client, calls):
    response = admin_client.get(
        admin_url(Initiative, "changelist"), {"municipalities__id__exact": "x"}
    )
    assert response.status_code == 302
    assert "e=1" in response["Location"]


# --- the dashboard -----------------------------------------------------------------------


def test_dashboard_keeps_its_figures_and_computes_them_again_on_request(admin_client, calls):
    first = admin_client.get(reverse("admin:index"))
    assert first.context["figures"]["overall"].redemptions == 3
    assert "Cifre calcolate il" in first.content.decode()

    with CaptureQueriesContext(connection) as kept:
        again = admin_client.get(reverse("admin:index"))
    assert not [q for q in kept if "merchants_redemption" in q["sql"] and "SUM" in q["sql"]]
    assert again.context["figures_computed_at"] == first.context["figures_computed_at"]

    redeem(voucher=calls["second"], shop=calls["shop"], person=calls["cashier"], amount="1.00")
    stale = admin_client.get(reverse("admin:index"))
    assert stale.context["figures"]["overall"].redemptions == 3

    fresh = admin_client.get(reverse("admin:index"), {"aggiorna": "1"})
    overall = fresh.context["figures"]["overall"]
    confirmed = Redemption.objects.filter(status=Redemption.Status.CONFIRMED)
    assert overall.redemptions == confirmed.count() == 4
    assert overall.redeemed == sum((r.amount for r in confirmed), Decimal("0.00"))
    assert overall.vouchers == Voucher.objects.count()


def test_dashboard_figures_of_two_municipalities_are_kept_apart(client, calls):
    from core.models import Role
    from tests.vouchers.test_admin_scoping import staff

    client.force_login(staff(Role.PROGRAMME_MANAGER, calls["roma"]))
    roma = client.get(reverse("admin:index")).context["figures"]["overall"]
    client.force_login(staff(Role.PROGRAMME_MANAGER, calls["bari"]))
    bari = client.get(reverse("admin:index")).context["figures"]["overall"]
    for town, shown in [("roma", roma), ("bari", bari)]:
        residents = Redemption.objects.filter(voucher__beneficiary__municipality=calls[town])
        assert shown.redemptions == residents.count()
        assert (
            shown.vouchers == Voucher.objects.filter(beneficiary__municipality=calls[town]).count()
        )
    assert roma.redemptions >= 2  # the holder of the first voucher lives in Roma


# --- searches ----------------------------------------------------------------------------


def found(admin_client, model, term) -> set[int]:
    response = admin_client.get(admin_url(model, "changelist"), {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_redemptions_are_found_by_fiscal_code_surname_shop_and_receipt(admin_client, calls):
    of_holder = set(
        Redemption.objects.filter(voucher__beneficiary=calls["holder"]).values_list("pk", flat=True)
    )
    everything = set(Redemption.objects.values_list("pk", flat=True))
    assert len(of_holder) == 2
    assert found(admin_client, Redemption, calls["holder"].fiscal_code.lower()) == of_holder
    assert found(admin_client, Redemption, "bianchi") == of_holder
    assert found(admin_client, Redemption, calls["shop"].name) == everything
    assert found(admin_client, Redemption, f'"{calls["shop"].name}" bianchi') == of_holder
    assert found(admin_client, Redemption, "nessuno") == set()
    one = min(of_holder)
    receipt = Redemption.objects.get(pk=one).receipt_number
    assert found(admin_client, Redemption, receipt) == {one}


def test_postings_are_found_by_voucher_number_as_a_number(admin_client, calls):
    voucher = calls["first"]
    expected = set(Posting.objects.filter(voucher_ref=voucher.pk).values_list("pk", flat=True))
    assert expected
    assert found(admin_client, Posting, str(voucher.pk)) >= expected
    assert found(admin_client, Posting, "9" * 40) == set()  # no overflow, nothing found


def test_journals_are_found_by_number_and_by_memo(admin_client, calls):
    journal = Journal.objects.order_by("pk").last()
    assert journal.pk in found(admin_client, Journal, str(journal.pk))
    assert found(admin_client, Journal, "9" * 40) == set()


# --- counts that stop --------------------------------------------------------------------


def test_capped_paginator_counts_up_to_its_cap_and_says_so(calls, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    capped = CappedCountPaginator(Redemption.objects.order_by("pk"), 1)
    assert isinstance(capped.count, CappedCount)
    assert str(capped.count) == "2+"
    assert capped.num_pages == 3
    exact = CappedCountPaginator(Redemption.objects.filter(voucher=calls["second"]), 1)
    assert exact.count == 1 and not isinstance(exact.count, CappedCount)


def test_redemption_list_shows_a_capped_count(admin_client, calls, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    response = admin_client.get(admin_url(Redemption, "changelist"), {"all": ""})
    assert str(response.context["cl"].result_count) == "2+"
    assert "2+" in response.content.decode()


def journal_queries(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(admin_url(Journal, "changelist"), params)
    assert response.status_code == 200
    listing = [q["sql"] for q in queries if 'FROM "core_journal"' in q["sql"]]
    return response.context["cl"], listing


def scans(statements):
    """The statements that search the journals rather than read them back by id."""
    return [sql for sql in statements if '"core_journal"."id" IN (' not in sql]


def test_a_search_that_fits_on_one_page_reads_the_journals_once(admin_client, calls):
    """The matching ids are the count: a search scanning every memo scans them once."""
    cl, listing = journal_queries(admin_client, q="Bianchi")  # nothing
    assert (cl.result_count, list(cl.result_list)) == (0, [])
    memo = Journal.objects.filter(kind=Journal.Kind.REDEMPTION).first().memo
    term = memo.split(" · ")[0]  # the shop's name: its three redemptions
    expected = list(
        Journal.objects.filter(memo__icontains=term).order_by("-pk").values_list("pk", flat=True)
    )
    cl, listing = journal_queries(admin_client, q=term)
    assert len(expected) == 3
    assert cl.result_count == 3
    assert [j.pk for j in cl.result_list] == expected
    assert len(scans(listing)) == 1, listing
    assert not any("COUNT(" in sql.upper() for sql in listing)
    assert len(listing) == 2  # and the page, read back by id


def test_a_search_longer_than_a_page_is_counted_and_paged_from_one_scan(
    admin_client, calls, monkeypatch
):
    monkeypatch.setattr(JournalAdmin, "list_per_page", 2)
    every = list(Journal.objects.order_by("-pk").values_list("pk", flat=True))
    assert len(every) > 4
    cl, _ = journal_queries(admin_client, q="a")
    matching = list(
        Journal.objects.filter(memo__icontains="a").order_by("-pk").values_list("pk", flat=True)
    )
    assert len(matching) > 2
    assert cl.result_count == len(matching)
    assert [j.pk for j in cl.result_list] == matching[:2]
    cl, listing = journal_queries(admin_client, q="a", p=2)
    assert [j.pk for j in cl.result_list] == matching[2:4]
    assert cl.result_count == len(matching)
    assert len(scans(listing)) == 1, listing
    cl, listing = journal_queries(admin_client)  # no search: the count as before
    assert [j.pk for j in cl.result_list] == every[:2]
    assert any("COUNT(" in sql.upper() for sql in listing)


def test_periodic_refresh_computes_the_figures_each_municipality_then_reads(client, calls):
    from django.core.management import call_command

    from core.models import Role
    from tests.vouchers.test_admin_scoping import staff

    call_command("refresh_dashboard", stdout=__import__("io").StringIO())
    redeem(voucher=calls["first"], shop=calls["shop"], person=calls["cashier"], amount="1.00")
    client.force_login(staff(Role.DESK_OPERATOR, calls["roma"]))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:index"))
    assert not [q for q in queries if "SUM(" in q["sql"] and "merchants_redemption" in q["sql"]]
    # Computed before the last redemption, by the task: one fewer than now.
    residents = Redemption.objects.filter(voucher__beneficiary__municipality=calls["roma"])
    assert response.context["figures"]["overall"].redemptions == residents.count() - 1

    from reports.tasks import refresh_dashboard_figures

    assert refresh_dashboard_figures() == 3  # the agency, Roma and Bari
    response = client.get(reverse("admin:index"))
    assert response.context["figures"]["overall"].redemptions == residents.count()


def test_accounts_list_shows_recent_balances_and_the_page_the_exact_one(admin_client, calls):
    from core.models import Account
    from core.selectors import money_sum

    response = admin_client.get(admin_url(Account, "changelist"))
    model_admin = response.context["cl"].model_admin
    for account in response.context["cl"].result_list:
        expected = money_sum(Posting.objects.filter(account=account))
        assert model_admin.recent_balance_display(account) == model_admin.balance_display(
            type("Shown", (), {"exact_balance": expected})()
        )
    account = Account.objects.filter(postings__isnull=False).first()
    page = admin_client.get(admin_url(Account, "change", account.pk))
    assert page.status_code == 200
    assert page.context["original"].exact_balance == money_sum(account.postings.all())


def test_periodic_refresh_also_computes_the_calls_list_figures(admin_client, calls):
    from merchants.selectors import initiative_redemption_figures
    from reports.dashboard import dashboard_figures_refresh

    admin_client.get(admin_url(Initiative, "changelist"))  # figures kept
    redeem(voucher=calls["second"], shop=calls["shop"], person=calls["cashier"], amount="0.75")
    assert initiative_redemption_figures()[calls["joint"].pk]["spent"] == Decimal("19.75")
    dashboard_figures_refresh()
    figures = initiative_redemption_figures()[calls["joint"].pk]
    assert figures["spent"] == direct_call_figures(calls["joint"])["spent"] == Decimal("20.50")
    assert figures["used"] == 2


def test_a_fiscal_code_is_searched_as_stored_not_upper_cased(admin_client, calls):
    from vouchers.models import Beneficiary

    holder = calls["holder"]
    term = holder.fiscal_code.lower()
    for model, expected in [
        (Beneficiary, {holder.pk}),
        (Voucher, {calls["first"].pk}),
    ]:
        with CaptureQueriesContext(connection) as queries:
            assert found(admin_client, model, term) == expected, model
        searched = [q["sql"] for q in queries if holder.fiscal_code in q["sql"]]
        assert searched, model
        assert not [sql for sql in searched if "UPPER(" in sql], model
    # Another word still searches the surname.
    assert found(admin_client, Voucher, "bianchi") == {calls["first"].pk}


def test_a_search_past_the_cap_says_so_and_still_pages(admin_client, calls, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    monkeypatch.setattr(JournalAdmin, "list_per_page", 1)
    matching = list(
        Journal.objects.filter(memo__icontains="a").order_by("-pk").values_list("pk", flat=True)
    )
    assert len(matching) > 3
    cl, _ = journal_queries(admin_client, q="a")
    assert str(cl.result_count) == "2+"
    assert [j.pk for j in cl.result_list] == matching[:1]
    cl, _ = journal_queries(admin_client, q="a", p=3)  # past the ids read: as before
    assert [j.pk for j in cl.result_list] == matching[2:3]
