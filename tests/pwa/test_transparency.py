"""The public transparency page of a call: aggregates only, groups under ten people hidden
together with their amounts, and one more group where a single hidden one could be
recovered from the total.

The call: 12 residents of A, 3 of B and 15 of C hold a €100 voucher each; 11 of C's spend
€20 at the grocer, 2 of A's €5 at the chemist.
"""

import itertools
import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from reports.open_data import PublicCell, PublicRow, _suppress, transparency_tables
from tests import factories
from vouchers.models import Initiative
from vouchers.services.issuing import voucher_issue_bulk

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


@pytest.fixture
def call():
    a = factories.municipality(name="Comune A")
    b = factories.municipality(name="Comune B")
    c = factories.municipality(name="Comune C")
    food = factories.category(slug="alimentari")
    medicines = factories.category(slug="farmacia")
    initiative = factories.initiative(
        municipalities=[a, b, c], categories=[food, medicines], status=Initiative.Status.ISSUED
    )
    holders = {
        town: [
            factories.beneficiary(municipality=town, last_name=f"Riservato{town.name[-1]}{i}")
            for i in range(count)
        ]
        for town, count in ((a, 12), (b, 3), (c, 15))
    }
    vouchers = {
        town: voucher_issue_bulk(initiative=initiative, beneficiaries=people)
        for town, people in holders.items()
    }
    grocer = factories.merchant(initiative=initiative, categories=[food])
    chemist = factories.merchant(initiative=initiative, categories=[medicines])
    for shop, town, count, amount in ((grocer, c, 11, "20.00"), (chemist, a, 2, "5.00")):
        cashier = factories.cashier(shop=shop)
        for voucher in vouchers[town][:count]:
            voucher_redeem(
                till=Till(merchant=shop, user=cashier),
                code=voucher.code,
                amount=amount,
                idempotency_key=f"transparency-{next(_keys)}",
            )
    return {"initiative": initiative, "holders": holders}


def table_rows(html: str, table_id: str) -> dict[str, list[str]]:
    """The rows of one table of the page: the row header, then the cells' texts."""
    table = re.search(rf'id="{table_id}".*?</table>', html, re.S).group(0)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        header = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if header:
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            rows[unescape(header.group(1).strip())] = [unescape(cell.strip()) for cell in cells]
    return rows


def page(client, initiative) -> str:
    response = client.get(reverse("transparency", args=[initiative.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_anyone_reads_the_page_without_logging_in(client, call):
    html = page(client, call["initiative"])
    assert call["initiative"].title in html
    # Aggregates only: nobody's name.
    assert "Riservato" not in html


def test_a_municipality_under_ten_people_is_hidden_with_its_amounts(client, call):
    rows = table_rows(page(client, call["initiative"]), "per-municipality")
    # receivers, vouchers, issued, spenders, spent, shops
    assert rows["Comune B"][:3] == ["< 10", "riservato", "riservato"]
    assert rows["Comune C"][:3] == ["15", "15", "€ 1.500,00"]
    assert rows["Totale"] == ["30", "30", "€ 3.000,00", "13", "€ 230,00", "2"]


def test_the_complementary_cell_is_hidden_too(client, call):
    rows = table_rows(page(client, call["initiative"]), "per-municipality")
    # Only B had fewer than ten holders: A (the smallest other) is hidden with it, so that
    # B's figures cannot be found by subtracting A and C from the total.
    assert rows["Comune A"][:3] == ["riservato", "riservato", "riservato"]
    # Spenders: A's two are hidden; B had nobody to hide, so C's spending goes instead.
    assert rows["Comune A"][3:] == ["< 10", "riservato", "riservato"]
    assert rows["Comune B"][3:] == ["0", "€ 0,00", "0"]
    assert rows["Comune C"][3:] == ["riservato", "riservato", "riservato"]
    html = page(client, call["initiative"])
    for amount in ("€ 1.200,00", "€ 300,00", "€ 10,00", "€ 220,00"):
        assert amount not in unescape(html)


def test_categories_hide_the_small_one_and_its_complement(client, call):
    rows = table_rows(page(client, call["initiative"]), "per-category")
    assert rows["Farmacia"] == ["—", "—", "—", "< 10", "riservato", "riservato"]
    assert rows["Alimentari"] == ["—", "—", "—", "riservato", "riservato", "riservato"]
    assert rows["Totale"][3:] == ["13", "€ 230,00", "2"]


def test_weeks_add_up_to_the_total(client, call):
    rows = table_rows(page(client, call["initiative"]), "per-week")
    weeks = [label for label in rows if label != "Totale"]
    assert len(weeks) == 1
    assert rows[weeks[0]] == rows["Totale"]


def test_a_call_with_fewer_than_ten_people_shows_no_figure(client):
    initiative = factories.initiative(status=Initiative.Status.PUBLISHED)
    for _ in range(3):
        factories.voucher(initiative=initiative)
    rows = table_rows(page(client, initiative), "per-municipality")
    assert rows["Totale"][:3] == ["< 10", "riservato", "riservato"]
    assert all(cells[:3] == ["< 10", "riservato", "riservato"] for cells in rows.values())
    assert "€ 300,00" not in unescape(page(client, initiative))


def test_a_draft_call_has_no_page(client):
    draft = factories.initiative(status=Initiative.Status.DRAFT)
    assert client.get(reverse("transparency", args=[draft.pk])).status_code == 404
    assert client.get("/trasparenza/999999/").status_code == 404


def test_the_call_page_links_the_transparency_page(client, call):
    response = client.get(reverse("webapp:initiative", args=[call["initiative"].pk]))
    assert reverse("transparency", args=[call["initiative"].pk]) in response.content.decode()


def test_tables_have_a_caption_and_headers_with_scope(client, call):
    html = page(client, call["initiative"])
    assert html.count("<caption>") == 3
    assert "Per comune di residenza" in html
    assert 'scope="col"' in html and 'scope="row"' in html
    assert "<th>" not in html  # every header cell says what it heads
    # Strict CSP: the page adds no inline script or style.
    main = re.search(r"<main.*</main>", html, re.S).group(0)
    assert "<script" not in main
    assert "style=" not in main


def test_suppression_picks_the_smallest_other_row_or_the_total():
    def row(label, people, amount):
        cells = {
            "receivers": PublicCell(people),
            "vouchers": PublicCell(people),
            "issued": PublicCell(Decimal(amount)),
            "spenders": PublicCell(0),
            "spent": PublicCell(Decimal("0")),
            "shops": PublicCell(0),
        }
        return PublicRow(label, cells)

    rows = [row("x", 4, "40"), row("y", 30, "300"), row("z", 20, "200")]
    total = row("Totale", 54, "540")
    _suppress(rows, total)
    assert [r.cells["issued"].hidden for r in rows] == [True, False, True]
    assert not total.cells["issued"].hidden

    rows = [row("x", 4, "40"), row("y", 0, "0")]
    total = row("Totale", 14, "40")
    _suppress(rows, total)
    # No other row with people: the total goes instead.
    assert total.cells["receivers"].hidden and total.cells["issued"].hidden


def test_the_selector_matches_the_page(call):
    tables = transparency_tables(initiative=call["initiative"])
    assert [table.dimension for table in tables] == ["municipality", "category", "week"]
    assert tables[0].total.cells["issued"].value == Decimal("3000.00")


def test_a_call_with_no_spending_has_no_category_rows(client):
    initiative = factories.initiative(status=Initiative.Status.ISSUED)
    for _ in range(12):
        factories.voucher(initiative=initiative)
    html = page(client, initiative)
    rows = table_rows(html, "per-category")
    # Nothing was spent: no row, not an empty "Senza categoria" one.
    assert "Senza categoria" not in rows
    assert list(rows) == ["Totale"]
    assert rows["Totale"][3:] == ["0", "€ 0,00", "0"]
    category_table = re.search(r'id="per-category".*?</table>', html, re.S).group(0)
    assert "Ancora nessun dato." in category_table
    # The vouchers issued still show by municipality.
    assert table_rows(html, "per-municipality")["Totale"][:3] == ["12", "12", "€ 1.200,00"]


def test_a_call_with_spending_shows_only_its_categories(client, call):
    rows = table_rows(page(client, call["initiative"]), "per-category")
    assert sorted(rows) == ["Alimentari", "Farmacia", "Totale"]


def test_spending_at_a_shop_without_category_has_its_row(client):
    initiative = factories.initiative(status=Initiative.Status.ISSUED)
    vouchers = [factories.voucher(initiative=initiative) for _ in range(10)]
    shop = factories.merchant(initiative=initiative)
    cashier = factories.cashier(shop=shop)
    for voucher in vouchers:
        voucher_redeem(
            till=Till(merchant=shop, user=cashier),
            code=voucher.code,
            amount="10.00",
            idempotency_key=f"transparency-{next(_keys)}",
        )
    # The shop's categories were taken away after it took the vouchers.
    shop.categories.clear()
    rows = table_rows(page(client, initiative), "per-category")
    assert rows["Senza categoria"] == ["—", "—", "—", "10", "€ 100,00", "1"]
    assert rows["Totale"][3:] == ["10", "€ 100,00", "1"]
