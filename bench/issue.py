"""Issuing, printing and ranking at the scale of a large call, each timed against its goal.

Run with ``.venv/bin/python bench/issue.py`` (PostgreSQL on 127.0.0.1:5432). It drops,
recreates and migrates the bench database, fills it with realistic data (bulk inserts, not
timed), then times through the real services:

1. issuing 100,000 vouchers with their ledger entries: ``initiative_issue`` over a ranked
   call with 100,000 funded applications, and ``voucher_issue_bulk`` to 100,000 residents
   (goal ≤ 10 s each);
2. one PDF of 10,000 printable vouchers: ``vouchers_pdf(printable_vouchers(…))`` (≤ 30 s);
3. the ranking of 200,000 admitted applications: ``initiative_rank`` (≤ 5 s).

Each step is checked afterwards (counts, balanced ledger, ranks, QR codes). The ratio
printed is the time over the goal: 1.00 or less meets it. See bench/README.md.
"""

import argparse
import gc
import os
import platform
import random
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import cpu_used, fresh_database, stopwatch  # noqa: E402

GOAL_ISSUE = 10.0  # seconds for 100,000 vouchers and their ledger entries
GOAL_PRINT = 30.0  # seconds for a PDF of 10,000 vouchers
GOAL_RANK = 5.0  # seconds to rank 200,000 applications
RANK_REJECTED_SHARE = 0.015  # rejected applications stay out of the ranking

# (name, ISTAT code, cadastral code used in fiscal codes, postal code)
MUNICIPALITIES = [
    ("Comune di Roma", "058091", "H501", "00185"),
    ("Comune di Milano", "015146", "F205", "20121"),
    ("Comune di Napoli", "063049", "F839", "80133"),
    ("Comune di Torino", "001272", "L219", "10121"),
    ("Comune di Bologna", "037006", "A944", "40121"),
    ("Comune di Bari", "072006", "A662", "70121"),
]
MALE_NAMES = ["Marco", "Giuseppe", "Luca", "Antonio", "Francesco", "Alessandro", "Andrea"]
FEMALE_NAMES = ["Giulia", "Maria", "Francesca", "Anna", "Sara", "Chiara", "Laura", "Elena"]
SURNAMES = [
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
]
STREETS = ["Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Piazza Dante"]
DECLARATIONS = [
    "Dichiaro che le informazioni fornite sono vere",
    "Dichiaro di non ricevere altri contributi per la stessa finalità",
]
CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"
MONTH_LETTERS = "ABCDEHLMPRST"
CHUNK = 20_000  # rows built in memory at a time during the set-up


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/buonocomune_bench_issue",
        help="dropped and recreated; its name must contain 'bench'",
    )
    parser.add_argument("--issue", type=int, default=100_000, help="vouchers issued")
    parser.add_argument("--print", type=int, default=10_000, help="vouchers printed")
    parser.add_argument("--rank", type=int, default=200_000, help="applications ranked")
    parser.add_argument(
        "--skip-bulk",
        action="store_true",
        help="time initiative_issue only, not voucher_issue_bulk",
    )
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args()
    args.print = min(args.print, args.issue)
    return args


def report(label: str, seconds: float, goal: float, scale: float = 1.0, cpu=None) -> dict:
    """Print one timing with its goal (scaled when the run is smaller than the brief)."""
    goal = goal * scale
    ratio = seconds / goal
    verdict = "met" if ratio <= 1 else "MISSED"
    print(f"  {label:<58} {seconds:7.2f} s   goal ≤ {goal:5.1f} s   ratio {ratio:4.2f}  {verdict}")
    if cpu is not None:
        python, postgres = cpu()
        server = "" if postgres is None else f" + PostgreSQL {postgres:.2f} s"
        print(f"     CPU: Python {python:.2f} s{server} (wall time above also waits on I/O)")
    return {"label": label, "seconds": seconds, "goal": goal, "ratio": ratio}


def application_updates() -> tuple[int, int] | None:
    """Rows of vouchers_application rewritten so far, and how many of them in place (HOT).

    A HOT update leaves the new version in the same page and adds no index entry: the
    share of them is what the table's fillfactor and the indexes decide.
    """
    from django.db import connection

    if connection.vendor != "postgresql" or connection.pg_version < 150000:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE relname = 'vouchers_application'"
        )
        return cursor.fetchone()


def report_updates(before: tuple[int, int] | None) -> None:
    after = application_updates()
    if before is None or after is None:
        return
    updated, hot = after[0] - before[0], after[1] - before[1]
    share = hot / updated if updated else 0
    print(f"     {updated:,} application rows rewritten, {hot:,} in place (HOT, {share:.0%})")


def check(condition: bool, message: str) -> None:
    print(f"     {'ok ' if condition else 'FAIL'} {message}")
    if not condition:
        check.failures += 1


check.failures = 0


# --- realistic data ---------------------------------------------------------------------


def fiscal_code(n: int, birth: date, sex: str, cadastral: str) -> str:
    """A well-formed codice fiscale; the six letters encode ``n``, so it is unique."""
    from stdnum.it import codicefiscale

    letters = []
    for _ in range(6):
        letters.append(CONSONANTS[n % 20])
        n //= 20
    day = birth.day + (40 if sex == "F" else 0)
    body = (
        f"{''.join(letters)}{birth.year % 100:02d}{MONTH_LETTERS[birth.month - 1]}"
        f"{day:02d}{cadastral}"
    )
    return body + codicefiscale.calc_check_digit(body)


def random_birth(rng: random.Random, today: date, low: int, high: int) -> date:
    return today - timedelta(days=rng.randint(low * 365 + 1, high * 365 - 1))


class World:
    """Everything the set-up made that the timed steps need."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(args.seed)
        self.today = None
        self.municipalities = []
        self.protocol = {}  # municipality id -> last protocol number given this year
        self.beneficiaries: list[tuple[int, int]] = []  # (id, municipality id)


def create_organisations(world: World) -> None:
    from django.utils import timezone

    from core.models import Fund, Organization
    from core.services.funding import _contribution_record as contribution_record
    from vouchers.models import SpendingCategory

    world.today = timezone.localdate()
    world.municipalities = [
        Organization.objects.create(
            kind=Organization.Kind.MUNICIPALITY, name=name, istat_code=istat
        )
        for name, istat, _cadastral, _cap in MUNICIPALITIES
    ]
    world.cadastral = {
        m.pk: row[2] for m, row in zip(world.municipalities, MUNICIPALITIES, strict=True)
    }
    world.postal_code = {
        m.pk: row[3] for m, row in zip(world.municipalities, MUNICIPALITIES, strict=True)
    }
    world.protocol = {m.pk: 0 for m in world.municipalities}
    agency = Organization.objects.create(
        kind=Organization.Kind.AGENCY, name="Ambito Territoriale Sociale"
    )
    funder = Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name="Fondazione di Comunità",
        funder_kind=Organization.FunderKind.FOUNDATION,
    )
    world.fund = Fund.objects.create(name="Fondo povertà alimentare", manager=agency)
    contribution_record(
        fund=world.fund,
        funder=funder,
        amount=Decimal("500000000.00"),
        received_on=world.today,
        document_reference="Determina 1/2025",
    )
    world.categories = [
        SpendingCategory.objects.create(slug="alimentari", name="Alimentari"),
        SpendingCategory.objects.create(slug="farmacia", name="Farmacia"),
    ]


def create_initiative(world: World, *, title: str, status: str, **fields):
    from vouchers.models import Initiative

    now = datetime.now(UTC)
    initiative = Initiative.objects.create(
        title=title,
        fund=world.fund,
        valid_from=world.today - timedelta(days=30),
        valid_until=date(world.today.year + 1, 12, 31),
        applications_open_at=now - timedelta(days=60),
        applications_close_at=now - timedelta(days=31),
        declarations="\n".join(DECLARATIONS),
        status=status,
        **fields,
    )
    initiative.municipalities.set(world.municipalities)
    initiative.allowed_categories.set(world.categories)
    return initiative


def assign_budget(initiative, amount: Decimal) -> None:
    from vouchers.services.budget import initiative_assign_budget

    initiative_assign_budget(initiative=initiative, amount=amount)


def create_beneficiaries(world: World, count: int) -> None:
    from django.db import transaction

    from vouchers.models import Beneficiary

    rng = world.rng
    start = len(world.beneficiaries)
    for offset in range(start, start + count, CHUNK):
        rows = []
        for n in range(offset, min(offset + CHUNK, start + count)):
            municipality = world.municipalities[rng.randrange(len(world.municipalities))]
            sex = "F" if rng.random() < 0.55 else "M"
            first = rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES)
            last = rng.choice(SURNAMES)
            birth = random_birth(rng, world.today, 19, 85)
            rows.append(
                Beneficiary(
                    fiscal_code=fiscal_code(n, birth, sex, world.cadastral[municipality.pk]),
                    first_name=first,
                    last_name=last,
                    email=(
                        f"{first}.{last.replace(' ', '')}{n}@example.org".lower()
                        if rng.random() < 0.6
                        else ""
                    ),
                    phone=f"+39 3{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}"
                    if rng.random() < 0.7
                    else "",
                    municipality=municipality,
                )
            )
        with transaction.atomic():
            created = Beneficiary.objects.bulk_create(rows, batch_size=2000)
        world.beneficiaries.extend((b.pk, b.municipality_id) for b in created)


def application_row(world: World, initiative, applicant: tuple[int, int], **fields):
    """An application as the desk or the applicant online would have filed it."""
    from vouchers.models import Application

    rng = world.rng
    beneficiary_id, municipality_id = applicant
    world.protocol[municipality_id] += 1
    opened = initiative.applications_open_at
    window = (initiative.applications_close_at - opened).total_seconds()
    channel = rng.choices(["desk", "online", "tutor"], weights=[50, 40, 10])[0]
    return Application(
        initiative=initiative,
        applicant_id=beneficiary_id,
        municipality_id=municipality_id,
        protocol_year=world.today.year,
        protocol_sequence=world.protocol[municipality_id],
        channel=channel,
        submitted_at=opened + timedelta(seconds=rng.uniform(0, window)),
        street=f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        postal_code=world.postal_code[municipality_id],
        isee=Decimal(min(rng.lognormvariate(8.8, 0.7), 39999)).quantize(Decimal("0.01")),
        dsu_protocol=f"INPS-ISEE-{world.today.year}-{rng.randint(10**8, 10**9 - 1)}-00",
        declarations_accepted=list(DECLARATIONS),
        **fields,
    )


def save_protocol_counters(world: World) -> None:
    from vouchers.models import ProtocolCounter

    for municipality_id, last in world.protocol.items():
        ProtocolCounter.objects.update_or_create(
            municipality_id=municipality_id,
            year=world.today.year,
            defaults={"last_number": last},
        )


def setup_issue_call(world: World, count: int):
    """A ranked call whose ``count`` applications are all funded, with the budget for them."""
    from django.db import transaction

    from vouchers.models import Application, Initiative

    initiative = create_initiative(
        world,
        title="Buoni spesa alimentari 2025",
        status=Initiative.Status.RANKED,
        face_value=Decimal("50.00"),
        amount_rule=Initiative.AmountRule.BASE_PLUS_MEMBER,
        amount_base=Decimal("150.00"),
        amount_per_member=Decimal("50.00"),
        amount_cap=Decimal("400.00"),
    )
    amounts = [Decimal("150.00"), Decimal("200.00"), Decimal("250.00"), Decimal("300.00")]
    total = Decimal("0.00")
    for offset in range(0, count, CHUNK):
        rows = []
        for n in range(offset, min(offset + CHUNK, count)):
            amount = world.rng.choices(amounts, weights=[35, 30, 20, 15])[0]
            total += amount
            rows.append(
                application_row(
                    world,
                    initiative,
                    world.beneficiaries[n],
                    status=Application.Status.APPROVED,
                    outcome=Application.Outcome.FUNDED,
                    rank=n + 1,
                    amount=amount,
                )
            )
        with transaction.atomic():
            Application.objects.bulk_create(rows, batch_size=2000)
    assign_budget(initiative, total)
    return initiative, total


def setup_bulk_call(world: World):
    from vouchers.models import Initiative

    return create_initiative(
        world,
        title="Buoni farmacia anziani",
        status=Initiative.Status.PUBLISHED,
        face_value=Decimal("25.00"),
    )


def setup_rank_call(world: World, count: int, first_applicant: int):
    """A closed call with ``count`` admitted applications (and a few rejected), households."""
    from django.db import transaction

    from vouchers.models import Application, HouseholdMember, Initiative

    initiative = create_initiative(
        world,
        title="Contributo famiglie con figli minori",
        status=Initiative.Status.CLOSED,
        face_value=Decimal("50.00"),
        amount_rule=Initiative.AmountRule.BASE_PLUS_MEMBER,
        amount_base=Decimal("200.00"),
        amount_per_member=Decimal("50.00"),
        amount_cap=Decimal("450.00"),
        child_min_age=0,
        child_max_age=17,
        max_isee=Decimal("40000.00"),
    )
    rng = world.rng
    rejected = int(count * RANK_REJECTED_SHARE)
    members = 0
    for offset in range(0, count + rejected, CHUNK):
        rows = []
        for n in range(offset, min(offset + CHUNK, count + rejected)):
            status = Application.Status.APPROVED if n < count else Application.Status.REJECTED
            rows.append(
                application_row(
                    world, initiative, world.beneficiaries[first_applicant + n], status=status
                )
            )
        rng.shuffle(rows)  # rejected ones interleaved with the admitted ones by id
        with transaction.atomic():
            created = Application.objects.bulk_create(rows, batch_size=2000)
            household = []
            for application in created:
                size = rng.choices([1, 2, 3, 4, 5, 6], weights=[40, 20, 18, 14, 6, 2])[0]
                for k in range(size - 1):
                    is_child = k > 0 or rng.random() < 0.3
                    birth = (
                        random_birth(rng, world.today, 0, 24)
                        if is_child
                        else random_birth(rng, world.today, 20, 80)
                    )
                    sex = rng.choice("MF")
                    number = 10_000_000 + application.pk * 8 + k
                    household.append(
                        HouseholdMember(
                            application=application,
                            fiscal_code=fiscal_code(
                                number, birth, sex, world.cadastral[application.municipality_id]
                            ),
                            first_name=rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES),
                            last_name=rng.choice(SURNAMES),
                            birth_date=birth,
                            is_child=is_child,
                        )
                    )
            HouseholdMember.objects.bulk_create(household, batch_size=2000)
            members += len(household)
    # Fund about 60% of what the admitted applications ask for.
    budget = (Decimal("280.00") * count * Decimal("0.6")).quantize(Decimal("1.00"))
    assign_budget(initiative, budget)
    return initiative, budget, members


def analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- the timed steps ---------------------------------------------------------------------


def expected_ranking(initiative, on: date) -> tuple[dict[int, tuple], dict[int, Decimal]]:
    """Recompute every admitted application's ranking key and amount independently."""
    from collections import defaultdict

    from vouchers.models import Application, HouseholdMember

    low = initiative.child_min_age or 0
    high = initiative.child_max_age if initiative.child_max_age is not None else 200
    household = defaultdict(lambda: 1)
    children = defaultdict(int)
    for application_id, birth, is_child in HouseholdMember.objects.filter(
        application__initiative=initiative
    ).values_list("application_id", "birth_date", "is_child"):
        household[application_id] += 1
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        if is_child and low <= age <= high:
            children[application_id] += 1
    keys, amounts = {}, {}
    for pk, isee, submitted_at in Application.objects.filter(
        initiative=initiative, status=Application.Status.APPROVED
    ).values_list("pk", "isee", "submitted_at"):
        size = household[pk]
        keys[pk] = (
            float(isee) if isee is not None else 1e12,
            -size,
            -children[pk],
            submitted_at.timestamp(),
            pk,
        )
        amount = initiative.amount_base + initiative.amount_per_member * (size - 1)
        amounts[pk] = min(amount, initiative.amount_cap)
    return keys, amounts


def step_issue(world: World, initiative, total: Decimal) -> dict:
    from django.db.models import Sum

    from core.models import Journal, Posting
    from core.selectors import account_balance, unbalanced_journals
    from vouchers.models import Application, Voucher
    from vouchers.services.issuing import initiative_issue

    count = world.args.issue
    updates = application_updates()
    with stopwatch() as elapsed, cpu_used() as cpu:
        issued = initiative_issue(initiative=initiative)
    result = report(
        f"1a. initiative_issue: {count:,} funded applications",
        elapsed(),
        GOAL_ISSUE,
        count / 1e5,
        cpu,
    )
    report_updates(updates)
    print(f"     of which about {code_generation_seconds(count):.2f} s drawing the random codes")
    vouchers = Voucher.objects.filter(initiative=initiative)
    journals = Journal.objects.filter(kind=Journal.Kind.VOUCHERS_ISSUED)
    check(issued == count, f"{issued:,} vouchers returned, {vouchers.count():,} in the table")
    check(
        not Application.objects.filter(initiative=initiative)
        .exclude(outcome=Application.Outcome.ISSUED)
        .exists(),
        "every application is now 'issued'",
    )
    check(not unbalanced_journals().exists(), f"{journals.count()} journals, all balanced")
    outstanding = account_balance(key=initiative.outstanding_account_key)
    face_values = vouchers.aggregate(total=Sum("face_value"))["total"]
    postings = Posting.objects.filter(account__key=initiative.outstanding_account_key).count()
    check(
        outstanding == face_values == total,
        f"{postings:,} outstanding postings sum to {outstanding:,} € = face values "
        f"{face_values:,} € = amounts funded",
    )
    check(
        account_balance(key=initiative.budget_account_key) == 0,
        "the call's budget is spent to the cent",
    )
    return result


def code_generation_seconds(count: int) -> float:
    """Time ``generate_code`` alone for as many codes as the step issued."""
    from vouchers.codes import generate_code

    with stopwatch() as elapsed:
        for _ in range(count):
            generate_code()
    return elapsed()


def step_issue_bulk(world: World, initiative) -> dict:
    from django.db.models import Sum

    from core.selectors import account_balance, unbalanced_journals
    from vouchers.models import Beneficiary, Voucher
    from vouchers.services.issuing import voucher_issue_bulk

    count = world.args.issue
    ids = [pk for pk, _m in world.beneficiaries[:count]]
    holders = list(Beneficiary.objects.filter(pk__in=ids).order_by("pk"))
    with stopwatch() as elapsed, cpu_used() as cpu:
        issued = voucher_issue_bulk(initiative=initiative, beneficiaries=holders)
    result = report(
        f"1b. voucher_issue_bulk: {count:,} residents", elapsed(), GOAL_ISSUE, count / 1e5, cpu
    )
    vouchers = Voucher.objects.filter(initiative=initiative)
    face_values = vouchers.aggregate(total=Sum("face_value"))["total"]
    outstanding = account_balance(key=initiative.outstanding_account_key)
    check(len(issued) == vouchers.count() == count, f"{vouchers.count():,} vouchers")
    check(not unbalanced_journals().exists(), "every journal balanced")
    check(
        outstanding == face_values == initiative.face_value * count,
        f"outstanding postings sum to {outstanding:,} € = face values {face_values:,} €",
    )
    return result


def step_print(world: World, initiative) -> dict:
    from vouchers.models import Voucher
    from vouchers.printing import printable_vouchers, vouchers_pdf

    count = world.args.print
    ids = list(
        Voucher.objects.filter(initiative=initiative).order_by("pk").values_list("pk", flat=True)
    )[:count]
    queryset = Voucher.objects.filter(initiative=initiative, pk__gte=ids[0], pk__lte=ids[-1])
    with stopwatch() as elapsed, cpu_used() as cpu:
        with stopwatch() as loading:
            vouchers = printable_vouchers(queryset)
        loaded = loading()
        pdf = vouchers_pdf(vouchers)
    result = report(
        f"2.  vouchers_pdf(printable_vouchers): {count:,} vouchers",
        elapsed(),
        GOAL_PRINT,
        count / 1e4,
        cpu,
    )
    pages = pdf_pages(pdf)
    holders = len({v.beneficiary_id for v in vouchers})
    print(
        f"     {len(pdf) / 1e6:.1f} MB, {pages:,} pages ({holders:,} holders); "
        f"loading {loaded:.2f} s, drawing {elapsed() - loaded:.2f} s"
    )
    check(pdf.startswith(b"%PDF") and len(vouchers) == count, f"{len(vouchers):,} vouchers")
    check(pages == holders, "one sheet per holder with a single voucher")
    sample = qr_codes_of_pages(pdf, [0, pages - 1])
    expected = [[vouchers[0].code], [vouchers[-1].code]]
    check(sample == expected, "the QR codes of the first and last sheet decode to their codes")
    return result


def pdf_pages(pdf: bytes) -> int:
    try:
        import pypdfium2
    except ImportError:
        import re

        return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    return len(pypdfium2.PdfDocument(pdf))


def qr_codes_of_pages(pdf: bytes, page_numbers: list[int]) -> list[list[str]] | None:
    try:
        import pypdfium2
        from pyzbar.pyzbar import decode
    except ImportError:
        return None
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    for number in page_numbers:
        image = document[number].render(scale=150 / 72).to_pil().convert("L")
        pages.append(sorted(symbol.data.decode() for symbol in decode(image)))
    return pages


def step_rank(world: World, initiative, budget: Decimal) -> dict:
    from core.money import ZERO
    from vouchers.models import Application, Initiative
    from vouchers.services.ranking import initiative_rank

    count = world.args.rank
    on = world.today
    updates = application_updates()
    with stopwatch() as elapsed, cpu_used() as cpu:
        ranked = initiative_rank(initiative=initiative, on=on)
    result = report(
        f"3.  initiative_rank: {count:,} admitted applications",
        elapsed(),
        GOAL_RANK,
        count / 2e5,
        cpu,
    )
    report_updates(updates)
    keys, amounts = expected_ranking(initiative, on)
    rows = list(
        Application.objects.filter(initiative=initiative, status=Application.Status.APPROVED)
        .order_by("rank")
        .values_list("pk", "rank", "outcome", "amount", "score_key")
    )
    check(ranked.status == Initiative.Status.RANKED, "the call is now ranked")
    check([r[1] for r in rows] == list(range(1, count + 1)), f"ranks are 1..{count:,}")
    check(
        [r[0] for r in rows] == sorted(keys, key=keys.__getitem__),
        "order = ISEE ascending, larger household, more children, earlier submission",
    )
    check(all(r[3] == amounts[r[0]] for r in rows), "every amount follows the call's rule")
    check(all(list(keys[r[0]]) == r[4] for r in rows), "every stored ranking key is the key")
    committed, expected_outcomes = ZERO, []
    for _pk, _rank, _outcome, amount, _key in rows:
        if amount > ZERO and committed + amount <= budget:
            committed += amount
            expected_outcomes.append(Application.Outcome.FUNDED)
        else:
            expected_outcomes.append(Application.Outcome.WAITING)
    funded = expected_outcomes.count(Application.Outcome.FUNDED)
    check(
        [r[2] for r in rows] == expected_outcomes,
        f"budget {budget:,} € funds {funded:,} ({committed:,} €), {count - funded:,} wait",
    )
    check(
        not Application.objects.filter(initiative=initiative, rank__isnull=False)
        .exclude(status=Application.Status.APPROVED)
        .exists(),
        "rejected applications have no rank",
    )
    return result


def main() -> int:
    args = parse_args()
    with stopwatch() as setup:
        fresh_database(args.database_url)
        from django.db import connection

        world = World(args)
        create_organisations(world)
        create_beneficiaries(world, args.issue + args.rank + int(args.rank * RANK_REJECTED_SHARE))
        issue_call, issue_total = setup_issue_call(world, args.issue)
        bulk_call = setup_bulk_call(world)
        if not args.skip_bulk:
            assign_budget(bulk_call, bulk_call.face_value * args.issue)
        rank_call, rank_budget, members = setup_rank_call(world, args.rank, args.issue)
        save_protocol_counters(world)
        analyze()
        # The set-up's objects are not the services' business: keep the collector off them.
        gc.collect()
        gc.freeze()
    vendor = connection.vendor
    server = (
        f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
        if vendor == "postgresql"
        else f"{vendor} {connection.Database.sqlite_version}"
    )
    print(
        f"bench/issue.py on {server} ({connection.settings_dict['NAME']}), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    applications = args.issue + args.rank + int(args.rank * RANK_REJECTED_SHARE)
    print(
        f"set-up (not counted): {len(world.beneficiaries):,} beneficiaries, "
        f"{applications:,} applications, {members:,} household members in {setup():.1f} s\n"
    )
    results = [step_issue(world, issue_call, issue_total)]
    if not args.skip_bulk:
        results.append(step_issue_bulk(world, bulk_call))
    analyze()
    results.append(step_print(world, issue_call))
    results.append(step_rank(world, rank_call, rank_budget))
    missed = [r for r in results if r["ratio"] > 1]
    print(
        f"\n{len(results) - len(missed)} of {len(results)} goals met; "
        f"{check.failures} failed checks; load average now {os.getloadavg()[0]:.1f}."
    )
    return 1 if check.failures or missed else 0


if __name__ == "__main__":
    sys.exit(main())
