"""Every admin change list and the dashboard at the scale of a large city, timed against the goals.

Run with ``.venv/bin/python bench/admin_scale.py`` (PostgreSQL on 127.0.0.1:5432). It drops,
recreates and migrates the bench database and fills it with set-based SQL (``INSERT … SELECT
… generate_series`` and ``COPY``): 200,000 beneficiaries with well-formed fiscal codes,
200,000 applications with their protocol numbers, decisions and outcome messages, 1,000,000
vouchers, 1,000,000 redemptions, each with its journal and two postings, weekly settlements,
refused attempts, shops and their device keys, and a ledger that balances (the small objects
come from the services). Then, as a superuser, a municipal desk operator and a programme
manager of the largest municipality, it GETs in-process (``django.test.Client``, DEBUG off)
every change list registered in ``admin.site`` (first page, default ordering), the same with
a search term and with each of its filters, and the dashboard (``/admin/``): one warm-up,
then five timed requests each, counting the SQL queries. Goal: ≤ 300 ms and ≤ 15 queries per
page. It prints a table and the pages over the goals. It exits 1 if a check of the built data
failed or a page answered with an error (a role's 403 aside): the figures are then not to be
trusted; pages over the goals are figures, not failures. ``--keep`` reuses a database built
earlier. See bench/README.md.
"""

import argparse
import gc
import hashlib
import json
import logging
import os
import platform
import random
import re
import secrets
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import configure_django, migrate, recreate_database, stopwatch  # noqa: E402

GOAL_MS = 300.0  # per page, median of the timed requests
GOAL_QUERIES = 15  # per page
STATEMENT_TIMEOUT = "60s"  # a page that takes longer is reported as failed, not waited for
SLOW_WARMUP = 5.0  # seconds: a page slower than this to warm up is timed twice, not five times

# (name, ISTAT code, cadastral code used in fiscal codes, postal code, share of the people)
MUNICIPALITIES = [
    ("Comune di Roma", "058091", "H501", "00185", 35),
    ("Comune di Milano", "015146", "F205", "20121", 20),
    ("Comune di Napoli", "063049", "F839", "80133", 15),
    ("Comune di Torino", "001272", "L219", "10121", 12),
    ("Comune di Bologna", "037006", "A944", "40121", 10),
    ("Comune di Bari", "072006", "A662", "70121", 8),
]
MALE_NAMES = ["Marco", "Giuseppe", "Luca", "Antonio", "Francesco", "Alessandro", "Andrea"]
FEMALE_NAMES = ["Giulia", "Maria", "Francesca", "Anna", "Sara", "Chiara", "Laura", "Elena"]
SURNAMES = [
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
    "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani",
    "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile",
]  # fmt: skip
SHOP_KINDS = ["Alimentari", "Supermercato", "Farmacia", "Macelleria", "Forno", "Libreria"]
STREETS = ["Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Piazza Dante"]
CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"
MONTH_LETTERS = "ABCDEHLMPRST"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # vouchers.codes.ALPHABET
# Shares of the applications per call, and of the vouchers per kind of call.
APPLICATION_SHARES = {"food": 0.50, "families": 0.25, "summer": 0.20, "books": 0.05}
VOUCHERS_EXPIRED_SHARE = 0.10  # last winter's call, now archived: expired or spent
VOUCHERS_LINKED_SHARE = 0.45  # issued to the funded applications of two calls
VOID_SHARE = 0.005  # of the redemptions of the last 14 days, the last of their voucher
REVOKED_SHARE = 0.01  # of the unused vouchers of the current calls
BIG_TABLES = [
    "vouchers_voucher",
    "merchants_redemption",
    "merchants_settlement",
    "merchants_refusedattempt",
    "core_journal",
    "core_posting",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/buonocomune_bench_admin",
        help="dropped and recreated (unless --keep); its name must contain 'bench'",
    )
    parser.add_argument("--vouchers", type=int, default=1_000_000)
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=200_000)
    parser.add_argument("--beneficiaries", type=int, default=200_000)
    parser.add_argument("--merchants", type=int, default=300)
    parser.add_argument("--refused", type=int, default=50_000, help="refused attempts")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the database of an earlier run if there is one (skip the build)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page")
    parser.add_argument(
        "--roles",
        default="superuser,desk,manager",
        help="comma-separated, among superuser, desk (desk operator), manager (programme manager)",
    )
    parser.add_argument(
        "--only", default="", help="measure only the pages whose URL matches this regex"
    )
    parser.add_argument("--no-filters", action="store_true", help="skip the filtered lists")
    parser.add_argument("--json", default="", help="also write the results to this file")
    parser.add_argument("--seed", type=float, default=0.2026, help="PostgreSQL setseed()")
    args = parser.parse_args()
    # Every call's applications go to different people: one per fiscal code per call.
    args.beneficiaries = max(
        args.beneficiaries, int(args.applications * max(APPLICATION_SHARES.values())) + 1
    )
    return args


def sizes_of(args) -> dict:
    return {
        "vouchers": args.vouchers,
        "redemptions": args.redemptions,
        "applications": args.applications,
        "beneficiaries": args.beneficiaries,
        "merchants": args.merchants,
        "refused": args.refused,
    }


# --- the database ------------------------------------------------------------------------


def database_marker(database_url: str) -> dict | None:
    """What an earlier, complete build left in the database's comment (None: nothing usable)."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        marker = json.loads(row[0])
    except ValueError:
        return None
    return marker if marker.get("bench") == "admin_scale" else None


def sql(statement: str, params=None) -> int:
    """Run one statement on Django's connection; return the rows it touched."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def scalar(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return row[0] if row else None


class Steps:
    """Time and print each step of the build."""

    def __init__(self):
        self.started = time.perf_counter()
        self.times: list[tuple[str, float]] = []

    def __call__(self, label: str):
        steps = self

        class _Step:
            def __enter__(self):
                self.start = time.perf_counter()
                print(f"  {label:<62}", end="", flush=True)

            def __exit__(self, *exc):
                seconds = time.perf_counter() - self.start
                steps.times.append((label, seconds))
                if exc[0] is None:
                    print(f"{seconds:7.1f} s", flush=True)

        return _Step()

    def total(self) -> float:
        return time.perf_counter() - self.started


# --- the small objects, through the ORM and the services -----------------------------------


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


def vat_number(n: int) -> str:
    from stdnum import luhn

    body = f"{1_000_000 + n:07d}{1 + n % 100:03d}"
    return body + luhn.calc_check_digit(body)


class World:
    """What the build made and the later steps need (ids, dates)."""

    def __init__(self, args):
        from django.utils import timezone

        self.args = args
        self.rng = random.Random(20260101)
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.municipalities = []  # Organization
        self.calls: dict[str, object] = {}
        self.users: dict[str, object] = {}
        self.desk_users: dict[int, int] = {}  # municipality id -> desk operator's user id


def at(day: date, hour: int = 9) -> datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


def create_organisations(world: World) -> None:
    from core.models import Fund, Organization
    from core.services.funding import _contribution_record as contribution_record
    from vouchers.models import SpendingCategory

    world.municipalities = [
        Organization.objects.create(kind=Organization.Kind.MUNICIPALITY, name=name, istat_code=code)
        for name, code, *_rest in MUNICIPALITIES
    ]
    world.agency = Organization.objects.create(
        kind=Organization.Kind.AGENCY, name="Ambito Territoriale Sociale"
    )
    world.third_sector = Organization.objects.create(
        kind=Organization.Kind.THIRD_SECTOR, name="Caritas diocesana"
    )
    funder = Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name="Fondazione di Comunità",
        funder_kind=Organization.FunderKind.FOUNDATION,
    )
    world.fund = Fund.objects.create(name="Fondo povertà alimentare", manager=world.agency)
    contribution_record(
        fund=world.fund,
        funder=funder,
        amount=Decimal("900000000.00"),
        received_on=world.today - timedelta(days=500),
        document_reference="Determina 1/2025",
    )
    world.categories = [
        SpendingCategory.objects.create(slug=slug, name=name)
        for slug, name in [
            ("alimentari", "Alimentari"),
            ("farmacia", "Farmacia"),
            ("libri", "Libri scolastici"),
            ("centri-estivi", "Centri estivi"),
        ]
    ]


def create_users(world: World) -> None:
    from django.contrib.auth import get_user_model

    from core.models import Role
    from core.roles import membership_grant

    User = get_user_model()
    world.users["superuser"] = User.objects.create_superuser(
        "bench_superuser", "superuser@example.org", None
    )
    rome = world.municipalities[0]
    for municipality in world.municipalities:
        town = municipality.name.removeprefix("Comune di ").lower()
        user = User.objects.create_user(f"bench_sportello_{town}", f"sportello.{town}@example.org")
        membership_grant(user=user, organization=municipality, role=Role.DESK_OPERATOR)
        world.desk_users[municipality.pk] = user.pk
        if municipality == rome:
            world.users["desk"] = user
    manager = User.objects.create_user("bench_responsabile_roma", "responsabile@example.org")
    membership_grant(user=manager, organization=rome, role=Role.PROGRAMME_MANAGER)
    world.users["manager"] = manager
    validator = User.objects.create_user("bench_convalida_roma", "convalida@example.org")
    membership_grant(user=validator, organization=rome, role=Role.VALIDATOR)
    world.users["validator"] = validator
    tutor = User.objects.create_user("bench_tutor", "tutor@example.org")
    membership_grant(user=tutor, organization=world.third_sector, role=Role.TUTOR)
    world.users["tutor"] = tutor


def create_calls(world: World) -> None:
    """Seven calls, one in each phase; four of them hold the vouchers."""
    from vouchers.models import Initiative

    today, year = world.today, world.today.year
    food, farmacia, books, summer = world.categories

    def call(key, *, title, status, benefit_kind, face, valid, window=None, categories=(food,)):
        partial = benefit_kind == Initiative.BenefitKind.VOUCHER_CARD
        initiative = Initiative.objects.create(
            title=title,
            description=f"{title}: bando per le famiglie in difficoltà dei comuni dell'ambito.",
            fund=world.fund,
            face_value=Decimal(face),
            partial_allowed=partial,
            benefit_kind=benefit_kind,
            valid_from=today + timedelta(days=valid[0]),
            valid_until=today + timedelta(days=valid[1]),
            applications_open_at=at(today + timedelta(days=window[0])) if window else None,
            applications_close_at=at(today + timedelta(days=window[1]), 18) if window else None,
            max_isee=Decimal("40000.00"),
            declarations="Dichiaro che le informazioni fornite sono vere",
            status=status,
        )
        initiative.municipalities.set(world.municipalities)
        initiative.allowed_categories.set(categories)
        world.calls[key] = initiative

    card, buoni = Initiative.BenefitKind.VOUCHER_CARD, Initiative.BenefitKind.FIXED_BUONI
    status = Initiative.Status
    call(
        "winter",
        title=f"Buoni spesa inverno {year - 1}",
        status=status.ARCHIVED,
        benefit_kind=card,
        face="100.00",
        valid=(-400, -35),
        window=(-430, -410),
    )
    call(
        "food",
        title=f"Buoni spesa alimentari {year}",
        status=status.ISSUED,
        benefit_kind=buoni,
        face="25.00",
        valid=(-150, 215),
        window=(-200, -170),
    )
    call(
        "families",
        title=f"Carta famiglie con figli {year}",
        status=status.ISSUED,
        benefit_kind=card,
        face="300.00",
        valid=(-140, 225),
        window=(-190, -160),
    )
    call(
        "pharmacy",
        title=f"Buoni farmacia over 75 {year}",
        status=status.ISSUED,
        benefit_kind=buoni,
        face="10.00",
        valid=(-90, 275),
        categories=(farmacia,),
    )
    call(
        "summer",
        title=f"Contributo centri estivi {year}",
        status=status.CLOSED,
        benefit_kind=card,
        face="250.00",
        valid=(10, 200),
        window=(-60, -10),
        categories=(summer,),
    )
    call(
        "books",
        title=f"Buoni libri scolastici {year}",
        status=status.PUBLISHED,
        benefit_kind=card,
        face="150.00",
        valid=(30, 300),
        window=(-20, 20),
        categories=(books,),
    )
    call(
        "transport",
        title=f"Bonus trasporti {year}",
        status=status.DRAFT,
        benefit_kind=card,
        face="50.00",
        valid=(60, 400),
    )


def create_merchants(world: World) -> None:
    from merchants.models import DeviceKey, Merchant

    rng, count = world.rng, world.args.merchants
    towns = world.municipalities
    weights = [row[4] for row in MUNICIPALITIES]
    statuses = rng.choices(
        [Merchant.Status.ACCREDITED, Merchant.Status.REQUESTED, Merchant.Status.SUSPENDED,
         Merchant.Status.REJECTED], weights=[90, 5, 3, 2], k=count)  # fmt: skip
    merchants = []
    homes = []
    for n in range(count):
        town = rng.choices(towns, weights=weights)[0]
        homes.append(town)
        kind = SHOP_KINDS[n % len(SHOP_KINDS)]
        surname = rng.choice(SURNAMES)
        merchants.append(
            Merchant(
                name=f"{kind} {surname} {n + 1}",
                legal_name=f"{kind} {surname} S.r.l.",
                vat_number=vat_number(n),
                iban="IT60X0542811101000000123456",
                street=f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
                postal_code=MUNICIPALITIES[towns.index(town)][3],
                town=town.name.removeprefix("Comune di "),
                email=f"negozio{n + 1}@example.org",
                status=statuses[n],
                status_reason="" if statuses[n] == Merchant.Status.ACCREDITED else "Verifica",
            )
        )
    merchants = Merchant.objects.bulk_create(merchants)
    food, farmacia, books, summer = world.categories
    kind_category = {
        "Alimentari": [food], "Supermercato": [food, farmacia], "Farmacia": [farmacia],
        "Macelleria": [food], "Forno": [food], "Libreria": [books, summer],
    }  # fmt: skip
    Categories = Merchant.categories.through
    Towns = Merchant.municipalities.through
    Categories.objects.bulk_create(
        Categories(merchant_id=m.pk, spendingcategory_id=c.pk)
        for m in merchants
        for c in kind_category[m.name.split(" ")[0]]
    )
    Towns.objects.bulk_create(
        Towns(merchant_id=m.pk, organization_id=home.pk)
        for m, home in zip(merchants, homes, strict=True)
    )
    superuser = world.users["superuser"]

    def key(merchant, name, revoked):
        raw = secrets.token_urlsafe(32)
        return DeviceKey(
            merchant=merchant,
            name=name,
            prefix=raw[:8],
            key_hash=hashlib.sha256(raw.encode()).hexdigest(),
            created_by=superuser,
            revoked_at=world.now - timedelta(days=rng.randint(1, 300)) if revoked else None,
            last_used_at=None if revoked else world.now - timedelta(minutes=rng.randint(1, 600)),
        )

    accredited = [m for m in merchants if m.status == Merchant.Status.ACCREDITED]
    active = DeviceKey.objects.bulk_create(key(m, "Cassa 1", False) for m in accredited)
    DeviceKey.objects.bulk_create(
        key(m, "Tablet vecchio", True) for m in merchants if rng.random() < 0.2
    )
    # The shops that take the vouchers: index → shop, its till, its name (for memos).
    world.tills = [(m.pk, d.pk, m.name) for m, d in zip(accredited, active, strict=True)]


def create_issuance_runs(world: World, vouchers_by_call: dict[int, int]) -> None:
    from vouchers.models import Application, IssuanceRun

    for key in ("food", "families"):
        initiative = world.calls[key]
        served = Application.objects.filter(
            initiative=initiative, outcome=Application.Outcome.ISSUED
        ).count()
        IssuanceRun.objects.create(
            initiative=initiative,
            status=IssuanceRun.Status.DONE,
            total=served,
            done=served,
            vouchers_issued=vouchers_by_call.get(initiative.pk, 0),
            started_by=world.users["manager"],
            finished_at=at(initiative.valid_from, 10),
        )


# --- the big tables, set-based -------------------------------------------------------------


def copy_beneficiaries(world: World) -> None:
    """200,000 residents with well-formed, unique fiscal codes, streamed with COPY."""
    from django.db import connection

    rng, count = world.rng, world.args.beneficiaries
    towns = world.municipalities
    weights = [row[4] for row in MUNICIPALITIES]
    cadastral = {m.pk: row[2] for m, row in zip(towns, MUNICIPALITIES, strict=True)}
    created = world.now - timedelta(days=450)
    columns = (
        "fiscal_code, first_name, last_name, email, phone, created_at, municipality_id, "
        "access_code_hash"
    )
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY vouchers_beneficiary ({columns}) FROM STDIN") as copy:
            for n in range(count):
                town = rng.choices(towns, weights=weights)[0]
                sex = "F" if rng.random() < 0.55 else "M"
                first = rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES)
                last = rng.choice(SURNAMES)
                birth = world.today - timedelta(days=rng.randint(19 * 365, 90 * 365))
                email = f"{first}.{last.replace(' ', '')}{n}@example.org".lower()
                copy.write_row(
                    (
                        fiscal_code(n, birth, sex, cadastral[town.pk]),
                        first,
                        last,
                        email if rng.random() < 0.6 else "",
                        f"+39 3{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}"
                        if rng.random() < 0.7
                        else "",
                        created + timedelta(minutes=n),
                        town.pk,
                        "",
                    )
                )
    world.beneficiary_min = scalar("SELECT min(id) FROM vouchers_beneficiary")


def insert_applications(world: World) -> int:
    """Applications of four calls, numbered per municipality and year, with their decisions."""
    args, calls = world.args, world.calls
    shares = APPLICATION_SHARES
    ends, total = {}, 0
    for key in ("food", "families", "summer", "books"):
        total += round(args.applications * shares[key])
        ends[key] = min(total, args.applications)
    ends["books"] = args.applications
    sql(
        "CREATE TEMP TABLE bench_call (call_no int, initiative_id bigint, open_at timestamptz, "
        "close_at timestamptz, amount numeric)"
    )
    rows = []
    for number, key in enumerate(("food", "families", "summer", "books"), 1):
        initiative = calls[key]
        rows.append(
            (
                number,
                initiative.pk,
                initiative.applications_open_at,
                initiative.applications_close_at,
                {"food": Decimal("100.00"), "families": Decimal("300.00")}.get(key),
            )
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO bench_call VALUES (%s, %s, %s, %s, %s)", rows)
    desk = ", ".join(f"({town}, {user})" for town, user in world.desk_users.items())
    inserted = sql(
        f"""
        WITH drawn AS MATERIALIZED (
            SELECT j,
                   CASE WHEN j <= %(food)s THEN 1 WHEN j <= %(families)s THEN 2
                        WHEN j <= %(summer)s THEN 3 ELSE 4 END AS call_no,
                   %(bmin)s + mod(j - 1, %(nb)s) AS applicant_id,
                   random() AS u_status, random() AS u_time, random() AS u_channel,
                   random() AS u_isee, random() AS u_flag
            FROM generate_series(1, %(total)s) AS j
        ), filed AS MATERIALIZED (
            SELECT d.*, b.municipality_id, c.initiative_id, c.amount AS funded_amount,
                   c.open_at + (c.close_at - c.open_at) * d.u_time AS submitted_at,
                   CASE WHEN d.u_channel < 0.5 THEN 'desk'
                        WHEN d.u_channel < 0.9 THEN 'online' ELSE 'tutor' END AS channel,
                   round((2000 + 38000 * d.u_isee ^ 1.6)::numeric, 2) AS isee,
                   CASE d.call_no
                       WHEN 1 THEN CASE WHEN d.u_status < 0.03 THEN 'rejected'
                                        WHEN d.u_status < 0.05 THEN 'withdrawn'
                                        ELSE 'approved' END
                       WHEN 2 THEN CASE WHEN d.u_status < 0.08 THEN 'rejected'
                                        WHEN d.u_status < 0.10 THEN 'withdrawn'
                                        ELSE 'approved' END
                       WHEN 3 THEN CASE WHEN d.u_status < 0.45 THEN 'submitted'
                                        WHEN d.u_status < 0.55 THEN 'info_requested'
                                        WHEN d.u_status < 0.90 THEN 'approved'
                                        WHEN d.u_status < 0.98 THEN 'rejected'
                                        ELSE 'withdrawn' END
                       ELSE CASE WHEN d.u_status < 0.93 THEN 'submitted'
                                 ELSE 'info_requested' END
                   END AS status
            FROM drawn d
            JOIN vouchers_beneficiary b ON b.id = d.applicant_id
            JOIN bench_call c ON c.call_no = d.call_no
        )
        INSERT INTO vouchers_application (
            protocol_year, protocol_sequence, channel, status, outcome, submitted_at, street,
            postal_code, isee, dsu_protocol, iban, declarations_accepted, household_flag,
            score_key, rank, amount, applicant_id, entered_by_id, initiative_id,
            municipality_id, tutor_id)
        SELECT y, row_number() OVER (PARTITION BY municipality_id, y ORDER BY submitted_at, j),
               channel, status,
               CASE WHEN call_no IN (1, 2) AND status = 'approved' THEN 'issued' ELSE 'pending' END,
               submitted_at, 'Via Roma ' || (1 + mod(j, 200)), '00100', isee,
               'INPS-ISEE-' || y || '-' || lpad((j * 7919 %% 1000000000)::text, 9, '0') || '-00',
               '', '["Dichiaro che le informazioni fornite sono vere"]'::jsonb,
               u_flag < 0.02, NULL,
               CASE WHEN call_no IN (1, 2) AND status = 'approved' THEN
                   row_number() OVER (PARTITION BY initiative_id, status ORDER BY isee, submitted_at)
               END,
               CASE WHEN call_no IN (1, 2) AND status = 'approved' THEN funded_amount END,
               applicant_id, CASE WHEN channel = 'desk' THEN desk.user_id END, initiative_id,
               municipality_id, CASE WHEN channel = 'tutor' THEN %(tutor)s::int END
        FROM (
            SELECT f.*, extract(year FROM f.submitted_at AT TIME ZONE 'Europe/Rome')::int AS y
            FROM filed f
        ) f
        JOIN (VALUES {desk}) AS desk (municipality_id, user_id) USING (municipality_id)
        ORDER BY submitted_at
        """,
        {
            "food": ends["food"],
            "families": ends["families"],
            "summer": ends["summer"],
            "total": args.applications,
            "bmin": world.beneficiary_min,
            "nb": args.beneficiaries,
            "tutor": world.users["tutor"].pk,
        },
    )
    sql(
        """
        INSERT INTO vouchers_protocolcounter (municipality_id, year, last_number)
        SELECT municipality_id, protocol_year, max(protocol_sequence)
        FROM vouchers_application GROUP BY municipality_id, protocol_year
        """
    )
    return inserted


def insert_decisions_and_notifications(world: World) -> tuple[int, int]:
    decisions = sql(
        """
        INSERT INTO vouchers_decision (action, reason, decided_at, from_status, to_status,
                                       application_id, decided_by_id)
        SELECT CASE a.status WHEN 'approved' THEN 'approve' WHEN 'rejected' THEN 'reject'
                             WHEN 'info_requested' THEN 'request_info' ELSE 'withdraw' END,
               CASE a.status WHEN 'approved' THEN 'Requisiti verificati'
                             WHEN 'rejected' THEN 'ISEE oltre la soglia del bando'
                             WHEN 'info_requested' THEN 'Manca l''attestazione ISEE'
                             ELSE 'Ritirata dal richiedente allo sportello' END,
               least(a.submitted_at + interval '1 day' * (1 + 29 * random()),
                     %(now)s - interval '1 hour'),
               'submitted', a.status, a.id,
               CASE WHEN a.status = 'withdrawn' THEN a.entered_by_id ELSE %(validator)s END
        FROM vouchers_application a
        WHERE a.status IN ('approved', 'rejected', 'info_requested', 'withdrawn')
        ORDER BY a.id
        """,
        {"now": world.now, "validator": world.users["validator"].pk},
    )
    calls = [world.calls["food"].pk, world.calls["families"].pk]
    notifications = sql(
        """
        INSERT INTO vouchers_notification (outcome, channel, recipient, subject, body, status,
                                           error, created_at, sent_at, application_id)
        SELECT outcome, channel, recipient, 'Esito della domanda ' || protocol,
               'Gentile ' || first_name || ', la domanda ' || protocol || ' è stata esaminata.',
               CASE WHEN channel <> 'letter' THEN 'sent'
                    WHEN random() < 0.7 THEN 'printed' ELSE 'to_print' END,
               '', created_at, CASE WHEN channel <> 'letter' THEN created_at END, id
        FROM (
            SELECT a.id, b.first_name,
                   a.protocol_year || '/' || lpad(a.protocol_sequence::text, 6, '0') AS protocol,
                   CASE a.status WHEN 'approved' THEN 'funded' ELSE 'rejected' END AS outcome,
                   CASE WHEN b.email <> '' THEN 'email' WHEN b.phone <> '' THEN 'sms'
                        ELSE 'letter' END AS channel,
                   CASE WHEN b.email <> '' THEN b.email ELSE b.phone END AS recipient,
                   ((i.valid_from - 5) + time '10:00') AT TIME ZONE 'Europe/Rome' AS created_at
            FROM vouchers_application a
            JOIN vouchers_beneficiary b ON b.id = a.applicant_id
            JOIN vouchers_initiative i ON i.id = a.initiative_id
            WHERE a.initiative_id = ANY(%(calls)s) AND a.status IN ('approved', 'rejected')
        ) x
        ORDER BY id
        """,
        {"calls": calls},
    )
    return decisions, notifications


def plan_vouchers(world: World) -> dict:
    """Decide every voucher: its call, holder, application, code; ids in issuing order."""
    args, calls = world.args, world.calls
    food, families = calls["food"], calls["families"]
    linked_available = scalar(
        """
        SELECT coalesce(sum(CASE WHEN initiative_id = %(food)s THEN 4 ELSE 1 END), 0)
        FROM vouchers_application
        WHERE initiative_id IN (%(food)s, %(families)s) AND outcome = 'issued'
        """,
        {"food": food.pk, "families": families.pk},
    )
    expired = round(args.vouchers * VOUCHERS_EXPIRED_SHARE)
    linked = min(int(linked_available), round(args.vouchers * VOUCHERS_LINKED_SHARE))
    residents = args.vouchers - expired - linked
    # Per call: face value, redemptions a voucher can take (a card: four quarters of its
    # value; a fixed-value buono: one), when it was issued and until when it is spent.
    sql(
        "CREATE TEMP TABLE bench_voucher_call (initiative_id bigint PRIMARY KEY, face numeric, "
        "partial boolean, max_r int, each_amount numeric, valid_from date, valid_until date, "
        "issued_at timestamptz, spend_until timestamptz)"
    )
    rows = []
    for key in ("winter", "food", "families", "pharmacy"):
        call = calls[key]
        max_r = 4 if call.partial_allowed else 1
        spend_until = min(
            at(call.valid_until + timedelta(days=1), 0), world.now - timedelta(minutes=5)
        )
        rows.append(
            (call.pk, call.face_value, call.partial_allowed, max_r, call.face_value / max_r,
             call.valid_from, call.valid_until, at(call.valid_from, 9), spend_until)
        )  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_voucher_call VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows
        )
    capacity = {
        "winter": 4 * expired,
        "linked": 0,
        "pharmacy": residents,
    }
    food_linked = scalar(
        """
        SELECT count(*) FROM (
            SELECT a.initiative_id FROM vouchers_application a
            CROSS JOIN LATERAL generate_series(1, CASE WHEN a.initiative_id = %(food)s
                                                      THEN 4 ELSE 1 END) g
            WHERE a.initiative_id IN (%(food)s, %(families)s) AND a.outcome = 'issued'
            ORDER BY a.initiative_id = %(food)s DESC, a.id, g LIMIT %(linked)s
        ) x WHERE initiative_id = %(food)s
        """,
        {"food": food.pk, "families": families.pk, "linked": linked},
    )
    capacity["linked"] = food_linked + 4 * (linked - food_linked)
    total_capacity = sum(capacity.values())
    share = min(1.0, args.redemptions * 1.003 / max(total_capacity, 1))
    vbase = scalar("SELECT coalesce(max(id), 0) FROM vouchers_voucher")
    code_chars = " || ".join(
        f"substr('{CODE_ALPHABET}', ((h{half} >> {5 * k}) & 31)::int + 1, 1)"
        for half in ("a", "b")
        for k in range(10)
    )
    sql(
        f"""
        CREATE TEMP TABLE bench_vplan AS
        WITH seq AS (
            SELECT row_number() OVER (ORDER BY seg, k) AS n, *
            FROM (
                SELECT 1 AS seg, k, %(winter)s::bigint AS initiative_id,
                       %(bmin)s + mod(k - 1, %(nb)s) AS beneficiary_id, NULL::bigint AS application_id
                FROM generate_series(1, %(expired)s) AS k
                UNION ALL
                (SELECT 2, row_number() OVER (ORDER BY a.initiative_id = %(food)s DESC, a.id, g),
                        a.initiative_id, a.applicant_id, a.id
                 FROM vouchers_application a
                 CROSS JOIN LATERAL generate_series(1, CASE WHEN a.initiative_id = %(food)s
                                                           THEN 4 ELSE 1 END) AS g
                 WHERE a.initiative_id IN (%(food)s, %(families)s) AND a.outcome = 'issued'
                 ORDER BY a.initiative_id = %(food)s DESC, a.id, g
                 LIMIT %(linked)s)
                UNION ALL
                SELECT 3, k, %(pharmacy)s::bigint, %(bmin)s + mod(k - 1, %(nb)s), NULL
                FROM generate_series(1, %(residents)s) AS k
            ) s
        ), drawn AS MATERIALIZED (
            SELECT %(vbase)s + s.n AS vid, s.seg, s.initiative_id, s.beneficiary_id,
                   s.application_id, c.face, c.partial, c.max_r, c.each_amount, c.valid_from,
                   c.valid_until, c.issued_at, c.spend_until,
                   CASE WHEN random() < 0.12 THEN 'printed' ELSE 'digital' END AS medium,
                   random() AS u_status,
                   -- How many times it is used: binomial, each of its parts with probability share.
                   (random() < %(share)s)::int
                   + CASE WHEN c.max_r = 4 THEN (random() < %(share)s)::int
                       + (random() < %(share)s)::int + (random() < %(share)s)::int ELSE 0 END
                       AS rc_want,
                   (random() * 1125899906842624)::bigint AS ha,
                   (random() * 1125899906842624)::bigint AS hb
            FROM seq s JOIN bench_voucher_call c USING (initiative_id)
        )
        SELECT d.*, {code_chars} AS code FROM drawn d
        """,
        {
            "winter": calls["winter"].pk,
            "food": food.pk,
            "families": families.pk,
            "pharmacy": calls["pharmacy"].pk,
            "bmin": world.beneficiary_min,
            "nb": args.beneficiaries,
            "expired": expired,
            "linked": linked,
            "residents": residents,
            "vbase": vbase,
            "share": share,
        },
    )
    return {"expired": expired, "linked": linked, "residents": residents, "share": share}


def plan_redemptions(world: World) -> dict:
    """Decide every redemption (time, shop, amount), the voids, the weekly settlements."""
    args = world.args
    sql(
        "CREATE TEMP TABLE bench_till (merchant_idx int PRIMARY KEY, merchant_id bigint, "
        "device_id bigint, name text)"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_till VALUES (%s, %s, %s, %s)",
            [(i, m, d, name) for i, (m, d, name) in enumerate(world.tills)],
        )
    # Spending is spread over the voucher's life, in order; a few shops take most of it.
    sql(
        """
        CREATE TEMP TABLE bench_rraw AS
        SELECT v.vid, v.seg, v.initiative_id, g AS seq, v.each_amount AS amount,
               v.face - g * v.each_amount AS balance_after,
               v.issued_at + (v.spend_until - v.issued_at) * ((g - 1 + random()) / v.max_r)
                   AS created_at,
               least(floor(%(tills)s * random() ^ 2)::int, %(tills)s - 1) AS merchant_idx,
               right(v.code, 4) AS hint
        FROM bench_vplan v CROSS JOIN LATERAL generate_series(1, v.rc_want) AS g
        LIMIT %(count)s
        """,
        {"tills": len(world.tills), "count": args.redemptions},
    )
    sql("CREATE TEMP TABLE bench_vlast AS SELECT vid, max(seq) AS rc FROM bench_rraw GROUP BY vid")
    # Redemption and journal ids follow time, as they would have been given.
    sql(
        """
        CREATE TEMP TABLE bench_rplan AS
        SELECT x.*,
               CASE WHEN NOT x.voided AND x.created_at < %(now)s - interval '14 days'
                    THEN date_trunc('week', x.created_at AT TIME ZONE 'Europe/Rome') END AS week
        FROM (
            SELECT r.*, row_number() OVER (ORDER BY r.created_at, r.vid, r.seq) AS rn,
                   (r.seq = l.rc AND r.created_at > %(now)s - interval '14 days'
                    AND random() < %(void)s) AS voided
            FROM bench_rraw r JOIN bench_vlast l USING (vid)
        ) x
        """,
        {"now": world.now, "void": VOID_SHARE},
    )
    sql(
        """
        CREATE TEMP TABLE bench_settle AS
        SELECT merchant_idx, week, sum(amount) AS total, count(*) AS n,
               row_number() OVER (ORDER BY week, merchant_idx) AS sno
        FROM bench_rplan WHERE week IS NOT NULL GROUP BY merchant_idx, week
        """
    )
    sql(
        "CREATE TEMP TABLE bench_vagg AS SELECT vid, count(*) FILTER (WHERE NOT voided) AS spent, "
        "max(created_at) AS last_at FROM bench_rplan GROUP BY vid"
    )
    # A voucher is spent out, expired with its call (the residual goes back to the budget),
    # revoked (a few unused ones), or active.
    sql(
        """
        CREATE TEMP TABLE bench_vfinal AS
        SELECT y.*,
               CASE WHEN y.status IN ('expired', 'revoked') THEN y.left_over ELSE 0 END
                   AS residual,
               CASE WHEN y.status IN ('expired', 'revoked') THEN 0 ELSE y.left_over END
                   AS balance
        FROM (
            SELECT v.*, v.face - v.each_amount * coalesce(a.spent, 0) AS left_over,
                   CASE WHEN v.face - v.each_amount * coalesce(a.spent, 0) = 0 THEN 'exhausted'
                        WHEN v.seg = 1 THEN 'expired'
                        WHEN a.vid IS NULL AND v.u_status < %(revoked)s THEN 'revoked'
                        ELSE 'active' END AS status,
                   CASE WHEN v.face - v.each_amount * coalesce(a.spent, 0) = 0 THEN NULL
                        WHEN v.seg = 1
                            THEN ((v.valid_until + 1) + time '02:00') AT TIME ZONE 'Europe/Rome'
                        WHEN a.vid IS NULL AND v.u_status < %(revoked)s
                            THEN v.issued_at + (%(now)s - v.issued_at) * (v.u_status / %(revoked)s)
                   END AS closed_at
            FROM bench_vplan v LEFT JOIN bench_vagg a USING (vid)
        ) y
        """,
        {"now": world.now, "revoked": REVOKED_SHARE},
    )
    return {
        "redemptions": scalar("SELECT count(*) FROM bench_rplan"),
        "voided": scalar("SELECT count(*) FROM bench_rplan WHERE voided"),
        "settlements": scalar("SELECT count(*) FROM bench_settle"),
    }


def assign_budgets(world: World) -> None:
    """Each call's budget through the service: what its vouchers are worth, or a plan."""
    from django.db import connection

    from vouchers.services.budget import initiative_assign_budget

    with connection.cursor() as cursor:
        cursor.execute("SELECT initiative_id, sum(face) FROM bench_vplan GROUP BY initiative_id")
        totals = dict(cursor.fetchall())
    for key, call in world.calls.items():
        amount = totals.get(call.pk) or {"summer": Decimal("2500000.00"),
                                         "books": Decimal("600000.00")}.get(key)  # fmt: skip
        if amount:
            initiative_assign_budget(initiative=call, amount=amount)


def create_accounts() -> None:
    """The ledger accounts of the calls' vouchers and of the shops, as the services name them."""
    sql(
        """
        INSERT INTO core_account (key, kind, name)
        SELECT 'initiative:' || initiative_id || ':outstanding', 'vouchers_outstanding',
               'Buoni in circolazione del bando ' || initiative_id
        FROM bench_voucher_call
        UNION ALL
        SELECT 'merchant:' || merchant_id || ':payable', 'merchant_payable',
               'Da liquidare all''esercente ' || merchant_id FROM bench_till
        UNION ALL
        SELECT 'merchant:' || merchant_id || ':settled', 'merchant_settled',
               'Liquidato all''esercente ' || merchant_id FROM bench_till
        ON CONFLICT (key) DO NOTHING
        """
    )
    sql(
        "ALTER TABLE bench_voucher_call ADD COLUMN outstanding_id bigint, ADD COLUMN budget_id bigint"
    )
    sql(
        """
        UPDATE bench_voucher_call c SET
            outstanding_id = (SELECT id FROM core_account
                              WHERE key = 'initiative:' || c.initiative_id || ':outstanding'),
            budget_id = (SELECT id FROM core_account
                         WHERE key = 'initiative:' || c.initiative_id || ':budget')
        """
    )
    sql("ALTER TABLE bench_till ADD COLUMN payable_id bigint, ADD COLUMN settled_id bigint")
    sql(
        """
        UPDATE bench_till t SET
            payable_id = (SELECT id FROM core_account
                          WHERE key = 'merchant:' || t.merchant_id || ':payable'),
            settled_id = (SELECT id FROM core_account
                          WHERE key = 'merchant:' || t.merchant_id || ':settled')
        """
    )


def secondary_indexes(tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, name, statement to recreate) of every index but the primary keys."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, c.conname,
                   'ALTER TABLE ' || quote_ident(t.relname) || ' ADD CONSTRAINT '
                   || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY(%s) AND c.contype = 'u'
            """,
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = 'public'
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = (quote_ident(i.indexname))::regclass
                                AND c.contype IN ('p', 'u'))
            """,
            [tables],
        )
        indexes = cursor.fetchall()
    return [("constraint", *row) for row in constraints] + [("index", *row) for row in indexes]


def drop_indexes(found) -> None:
    for kind, table, name, _statement in found:
        if kind == "constraint":
            sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        else:
            sql(f'DROP INDEX "{name}"')


def create_indexes(found) -> None:
    for _kind, _table, _name, statement in found:
        sql(statement)


def insert_vouchers(world: World) -> int:
    count = sql(
        """
        INSERT INTO vouchers_voucher (id, code, face_value, balance, partial_allowed, valid_from,
            valid_until, status, medium, issued_at, closed_at, closed_reason, beneficiary_id,
            initiative_id, application_id)
        SELECT vid, code, face, balance, partial, valid_from, valid_until, status, medium,
               issued_at, closed_at,
               CASE status WHEN 'expired' THEN 'scadenza'
                           WHEN 'revoked' THEN 'Perdita dei requisiti' ELSE '' END,
               beneficiary_id, initiative_id, application_id
        FROM bench_vfinal ORDER BY vid
        """
    )
    sql(
        "SELECT setval(pg_get_serial_sequence('vouchers_voucher', 'id'), "
        "(SELECT max(id) FROM vouchers_voucher))"
    )
    return count


def insert_ledger(world: World) -> dict:
    """Journals and postings of the issuing, the redemptions, the voids, the closings and
    the settlements, with ids given in blocks; then the settlements and the redemptions."""
    jbase = scalar("SELECT coalesce(max(id), 0) FROM core_journal")
    redemptions = scalar("SELECT count(*) FROM bench_rplan")
    voids = scalar("SELECT count(*) FROM bench_rplan WHERE voided")
    closings = scalar("SELECT count(*) FROM bench_vfinal WHERE residual > 0")
    ids = {
        "issue": jbase,  # + 1..4, one journal per call
        "redemption": jbase + 4,
        "void": jbase + 4 + redemptions,
        "closing": jbase + 4 + redemptions + voids,
        "settlement": jbase + 4 + redemptions + voids + closings,
    }
    sql("ALTER TABLE bench_voucher_call ADD COLUMN issue_journal bigint")
    sql(
        """
        UPDATE bench_voucher_call c SET issue_journal = %(base)s + x.n
        FROM (SELECT initiative_id, row_number() OVER (ORDER BY issued_at, initiative_id) AS n
              FROM bench_voucher_call) x
        WHERE x.initiative_id = c.initiative_id
        """,
        {"base": ids["issue"]},
    )
    sql(
        "CREATE TEMP TABLE bench_void AS SELECT rn, row_number() OVER (ORDER BY rn) AS n "
        "FROM bench_rplan WHERE voided"
    )
    sql(
        "CREATE TEMP TABLE bench_closing AS SELECT vid, row_number() OVER (ORDER BY vid) AS n "
        "FROM bench_vfinal WHERE residual > 0"
    )
    sql("ANALYZE bench_rplan; ANALYZE bench_vfinal; ANALYZE bench_settle")
    params = {**{f"j_{key}": value for key, value in ids.items()}}

    # Journals.
    sql(
        """
        INSERT INTO core_journal (id, kind, memo, created_at, created_by_id)
        SELECT c.issue_journal, 'vouchers_issued',
               count(*) || ' buoni · ' || i.title, c.issued_at, NULL
        FROM bench_vfinal v JOIN bench_voucher_call c USING (initiative_id)
        JOIN vouchers_initiative i ON i.id = c.initiative_id
        GROUP BY c.issue_journal, i.title, c.issued_at
        """
    )
    sql(
        """
        INSERT INTO core_journal (id, kind, memo, created_at, created_by_id)
        SELECT %(j_redemption)s + r.rn, 'redemption', t.name || ' · …' || r.hint, r.created_at, NULL
        FROM bench_rplan r JOIN bench_till t USING (merchant_idx) ORDER BY r.rn
        """,
        params,
    )
    sql(
        """
        INSERT INTO core_journal (id, kind, memo, created_at, created_by_id)
        SELECT %(j_void)s + d.n, 'redemption_void', 'Annullamento · …' || r.hint,
               r.created_at + interval '3 minutes', NULL
        FROM bench_void d JOIN bench_rplan r USING (rn) ORDER BY d.n
        """,
        params,
    )
    sql(
        """
        INSERT INTO core_journal (id, kind, memo, created_at, created_by_id)
        SELECT %(j_closing)s + c.n,
               CASE v.status WHEN 'expired' THEN 'voucher_expired' ELSE 'voucher_revoked' END,
               '…' || right(v.code, 4) || ': ' || CASE v.status WHEN 'expired' THEN 'scadenza'
                                                  ELSE 'Perdita dei requisiti' END,
               v.closed_at, NULL
        FROM bench_closing c JOIN bench_vfinal v USING (vid) ORDER BY c.n
        """,
        params,
    )
    settled_at = (
        "least((s.week + interval '14 days 10 hours') AT TIME ZONE 'Europe/Rome', "
        "%(now)s - interval '1 hour')"
    )
    sql(
        f"""
        INSERT INTO core_journal (id, kind, memo, created_at, created_by_id)
        SELECT %(j_settlement)s + s.sno, 'settlement', 'Liquidazione ' || t.name, {settled_at},
               NULL
        FROM bench_settle s JOIN bench_till t USING (merchant_idx) ORDER BY s.sno
        """,
        {**params, "now": world.now},
    )
    sql(
        "SELECT setval(pg_get_serial_sequence('core_journal', 'id'), "
        "(SELECT max(id) FROM core_journal))"
    )

    # Postings.
    postings = sql(
        """
        INSERT INTO core_posting (amount, voucher_ref, merchant_ref, account_id, journal_id)
        SELECT amount, voucher_ref, NULL, account_id, journal_id FROM (
            SELECT -sum(v.face) AS amount, NULL::bigint AS voucher_ref, c.budget_id AS account_id,
                   c.issue_journal AS journal_id, 0 AS k
            FROM bench_vfinal v JOIN bench_voucher_call c USING (initiative_id)
            GROUP BY c.budget_id, c.issue_journal
            UNION ALL
            SELECT v.face, v.vid, c.outstanding_id, c.issue_journal, v.vid
            FROM bench_vfinal v JOIN bench_voucher_call c USING (initiative_id)
        ) x ORDER BY journal_id, k
        """
    )
    postings += sql(
        """
        INSERT INTO core_posting (amount, voucher_ref, merchant_ref, account_id, journal_id)
        SELECT CASE s.side WHEN 1 THEN -r.amount ELSE r.amount END, r.vid,
               CASE s.side WHEN 1 THEN NULL ELSE t.merchant_id END,
               CASE s.side WHEN 1 THEN c.outstanding_id ELSE t.payable_id END,
               %(j_redemption)s + r.rn
        FROM bench_rplan r
        JOIN bench_till t USING (merchant_idx)
        JOIN bench_voucher_call c USING (initiative_id)
        CROSS JOIN (VALUES (1), (2)) AS s (side)
        ORDER BY r.rn, s.side
        """,
        params,
    )
    postings += sql(
        """
        INSERT INTO core_posting (amount, voucher_ref, merchant_ref, account_id, journal_id)
        SELECT CASE s.side WHEN 1 THEN r.amount ELSE -r.amount END, r.vid,
               CASE s.side WHEN 1 THEN NULL ELSE t.merchant_id END,
               CASE s.side WHEN 1 THEN c.outstanding_id ELSE t.payable_id END,
               %(j_void)s + d.n
        FROM bench_void d JOIN bench_rplan r USING (rn)
        JOIN bench_till t USING (merchant_idx)
        JOIN bench_voucher_call c USING (initiative_id)
        CROSS JOIN (VALUES (1), (2)) AS s (side)
        ORDER BY d.n, s.side
        """,
        params,
    )
    postings += sql(
        """
        INSERT INTO core_posting (amount, voucher_ref, merchant_ref, account_id, journal_id)
        SELECT CASE s.side WHEN 1 THEN -v.residual ELSE v.residual END,
               CASE s.side WHEN 1 THEN v.vid END,
               NULL,
               CASE s.side WHEN 1 THEN c.outstanding_id ELSE c.budget_id END,
               %(j_closing)s + k.n
        FROM bench_closing k JOIN bench_vfinal v USING (vid)
        JOIN bench_voucher_call c USING (initiative_id)
        CROSS JOIN (VALUES (1), (2)) AS s (side)
        ORDER BY k.n, s.side
        """,
        params,
    )
    postings += sql(
        """
        INSERT INTO core_posting (amount, voucher_ref, merchant_ref, account_id, journal_id)
        SELECT CASE s.side WHEN 1 THEN -x.total ELSE x.total END, NULL, t.merchant_id,
               CASE s.side WHEN 1 THEN t.payable_id ELSE t.settled_id END,
               %(j_settlement)s + x.sno
        FROM bench_settle x JOIN bench_till t USING (merchant_idx)
        CROSS JOIN (VALUES (1), (2)) AS s (side)
        ORDER BY x.sno, s.side
        """,
        params,
    )

    # Settlements, then the redemptions that point at them.
    sbase = scalar("SELECT coalesce(max(id), 0) FROM merchants_settlement")
    sql(
        f"""
        INSERT INTO merchants_settlement (id, total, redemptions_count, created_at,
                                          created_by_id, journal_id, merchant_id, payment_line_id)
        SELECT %(sbase)s + s.sno, s.total, s.n, {settled_at}, NULL, %(j_settlement)s + s.sno,
               t.merchant_id, NULL
        FROM bench_settle s JOIN bench_till t USING (merchant_idx) ORDER BY s.sno
        """,
        {**params, "sbase": sbase, "now": world.now},
    )
    rbase = scalar("SELECT coalesce(max(id), 0) FROM merchants_redemption")
    inserted = sql(
        """
        INSERT INTO merchants_redemption (id, amount, balance_after, status, created_at,
            voided_at, cashier_id, device_id, journal_id, merchant_id, voided_by_id, voucher_id,
            settlement_id)
        SELECT %(rbase)s + r.rn, r.amount, r.balance_after,
               CASE WHEN r.voided THEN 'voided' ELSE 'confirmed' END, r.created_at,
               CASE WHEN r.voided THEN r.created_at + interval '3 minutes' END, NULL,
               t.device_id, %(j_redemption)s + r.rn, t.merchant_id, NULL, r.vid,
               %(sbase)s + s.sno
        FROM bench_rplan r
        JOIN bench_till t USING (merchant_idx)
        LEFT JOIN bench_settle s ON s.merchant_idx = r.merchant_idx AND s.week = r.week
        ORDER BY r.rn
        """,
        {**params, "sbase": sbase, "rbase": rbase},
    )
    for table in ("merchants_settlement", "merchants_redemption"):
        sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    return {"postings": postings, "redemptions": inserted, "journals": scalar(
        "SELECT count(*) FROM core_journal")}  # fmt: skip


def insert_refused_attempts(world: World) -> int:
    from merchants.errors import RedemptionError

    reasons = [
        "voucher_not_found", "voucher_expired", "voucher_exhausted", "voucher_revoked",
        "insufficient_balance", "partial_not_allowed", "merchant_not_in_circuit",
        "invalid_code_format", "rate_limited",
    ]  # fmt: skip
    reasons = [r for r in reasons if r in RedemptionError.messages]
    vmin = scalar("SELECT min(id) FROM vouchers_voucher")
    vmax = scalar("SELECT max(id) FROM vouchers_voucher")
    return sql(
        """
        INSERT INTO merchants_refusedattempt (action, reason, code_hint, amount, ip_address,
            created_at, device_id, merchant_id, user_id, voucher_id)
        SELECT CASE WHEN u1 < 0.6 THEN 'redeem' ELSE 'check' END, reason,
               CASE WHEN voucher_id IS NULL THEN upper(substr(md5(j::text), 1, 4))
                    ELSE right(v.code, 4) END,
               CASE WHEN u1 < 0.6 THEN round((5 + 95 * u2)::numeric, 2) END,
               ('10.' || (j %% 250) || '.' || ((j / 250) %% 250) || '.' || (1 + j %% 200))::inet,
               created_at, t.device_id, t.merchant_id, NULL, voucher_id
        FROM (
            SELECT j, random() AS u1, random() AS u2,
                   (%(reasons)s::text[])[1 + floor(random() * %(n_reasons)s)::int] AS reason,
                   CASE WHEN random() < 0.01 THEN %(now)s - interval '10 hours' * random()
                        ELSE %(now)s - interval '90 days' * random() END AS created_at,
                   least(floor(%(tills)s * random() ^ 2)::int, %(tills)s - 1) AS merchant_idx,
                   CASE WHEN random() < 0.4
                        THEN %(vmin)s + floor(random() * (%(vmax)s - %(vmin)s + 1))::bigint
                   END AS voucher_id
            FROM generate_series(1, %(count)s) AS j
        ) x
        JOIN bench_till t USING (merchant_idx)
        LEFT JOIN vouchers_voucher v ON v.id = x.voucher_id
        ORDER BY created_at
        """,
        {
            "reasons": reasons,
            "n_reasons": len(reasons),
            "now": world.now,
            "tills": len(world.tills),
            "vmin": vmin,
            "vmax": vmax,
            "count": world.args.refused,
        },
    )


def check_books() -> list[tuple[bool, str]]:
    """What must hold after the build: a balanced ledger that agrees with the tables."""
    checks = []
    unbalanced = scalar(
        "SELECT count(*) FROM (SELECT journal_id FROM core_posting GROUP BY journal_id "
        "HAVING sum(amount) <> 0) x"
    )
    checks.append((unbalanced == 0, f"every journal balanced ({unbalanced} are not)"))
    wrong = scalar(
        """
        SELECT count(*) FROM vouchers_voucher v
        LEFT JOIN (SELECT p.voucher_ref, sum(p.amount) AS total FROM core_posting p
                   JOIN core_account a ON a.id = p.account_id
                   WHERE a.kind = 'vouchers_outstanding' GROUP BY p.voucher_ref) l
               ON l.voucher_ref = v.id
        WHERE coalesce(l.total, 0) <> v.balance
        """
    )
    checks.append((wrong == 0, f"every voucher's balance = its ledger ({wrong} differ)"))
    payable = scalar(
        "SELECT coalesce(sum(p.amount), 0) FROM core_posting p JOIN core_account a "
        "ON a.id = p.account_id WHERE a.kind = 'merchant_payable'"
    )
    unsettled = scalar(
        "SELECT coalesce(sum(amount), 0) FROM merchants_redemption "
        "WHERE status = 'confirmed' AND settlement_id IS NULL"
    )
    checks.append(
        (
            payable == unsettled,
            f"shops' payable {payable:,} € = unsettled redemptions {unsettled:,} €",
        )
    )
    orphans = scalar(
        """
        SELECT (SELECT count(*) FROM merchants_redemption r
                WHERE NOT EXISTS (SELECT 1 FROM vouchers_voucher v WHERE v.id = r.voucher_id)
                   OR NOT EXISTS (SELECT 1 FROM core_journal j WHERE j.id = r.journal_id))
             + (SELECT count(*) FROM core_posting p
                WHERE NOT EXISTS (SELECT 1 FROM core_journal j WHERE j.id = p.journal_id))
             + (SELECT count(*) FROM vouchers_voucher v
                WHERE NOT EXISTS (SELECT 1 FROM vouchers_beneficiary b
                                  WHERE b.id = v.beneficiary_id))
        """
    )
    checks.append((orphans == 0, f"no row points at a missing one ({orphans} do)"))
    return checks


def build(args) -> dict:
    """Recreate the database and fill it; return what it holds and how long it took."""
    from django.db import connection

    steps = Steps()
    print(f"Building {urlsplit(args.database_url).path.lstrip('/')} (set-based SQL):")
    with steps("drop, create and migrate the database"):
        recreate_database(args.database_url)
        configure_django(args.database_url, ALLOWED_HOSTS="127.0.0.1,testserver")
        migrate()
    sql(
        "SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'; SET temp_buffers = '1GB'; "
        "SET synchronous_commit = off; SET max_parallel_maintenance_workers = 2"
    )
    sql("SELECT setseed(%s)", [args.seed])
    world = World(args)
    with steps("organisations, fund, calls, users, shops (services and ORM)"):
        create_organisations(world)
        create_users(world)
        create_calls(world)
        create_merchants(world)
    with steps(f"{args.beneficiaries:,} beneficiaries (COPY)"):
        copy_beneficiaries(world)
    with steps(f"{args.applications:,} applications"):
        applications = insert_applications(world)
    with steps("decisions and outcome messages"):
        decisions, notifications = insert_decisions_and_notifications(world)
    with steps("plan the vouchers and the redemptions"):
        voucher_plan = plan_vouchers(world)
        redemption_plan = plan_redemptions(world)
    with steps("budgets (service), ledger accounts, issuing runs"):
        assign_budgets(world)
        create_accounts()
        with connection.cursor() as cursor:
            cursor.execute("SELECT initiative_id, count(*) FROM bench_vplan GROUP BY 1")
            create_issuance_runs(world, dict(cursor.fetchall()))
    indexes = secondary_indexes(BIG_TABLES)
    drop_indexes(indexes)
    # Rows are written consistent by construction (checked below): foreign keys unchecked
    # while loading, as pg_restore does.
    sql("SET session_replication_role = replica")
    with steps(f"{args.vouchers:,} vouchers"):
        vouchers = insert_vouchers(world)
    with steps("journals, postings, settlements and redemptions"):
        ledger = insert_ledger(world)
    with steps(f"{args.refused:,} refused attempts"):
        refused = insert_refused_attempts(world)
    sql("SET session_replication_role = DEFAULT")
    with steps(f"recreate {len(indexes)} indexes and unique constraints"):
        create_indexes(indexes)
    for table in ("bench_rplan", "bench_rraw", "bench_vplan", "bench_vfinal", "bench_vagg"):
        sql(f"DROP TABLE IF EXISTS {table}")
    with steps("VACUUM ANALYZE (as autovacuum would have)"):
        sql("VACUUM ANALYZE")
    with steps("check the books"):
        checks = check_books()
    for ok, text in checks:
        print(f"     {'ok ' if ok else 'FAIL'} {text}")
    contents = {
        "beneficiaries": args.beneficiaries,
        "applications": applications,
        "decisions": decisions,
        "notifications": notifications,
        "vouchers": vouchers,
        "redemptions": ledger["redemptions"],
        "voided redemptions": redemption_plan["voided"],
        "settlements": redemption_plan["settlements"],
        "journals": ledger["journals"],
        "postings": ledger["postings"],
        "refused attempts": refused,
        "shops": args.merchants,
        "vouchers by kind": voucher_plan,
    }
    marker = {
        "bench": "admin_scale",
        "sizes": sizes_of(args),
        "contents": {k: v for k, v in contents.items() if k != "vouchers by kind"},
        "built_at": world.now.isoformat(timespec="seconds"),
        "build_seconds": round(steps.total(), 1),
        "steps": [(label, round(seconds, 1)) for label, seconds in steps.times],
        "checks_failed": sum(1 for ok, _text in checks if not ok),
    }
    name = urlsplit(args.database_url).path.lstrip("/")
    sql(f'COMMENT ON DATABASE "{name}" IS %s', [json.dumps(marker)])
    return marker


# --- the measurements --------------------------------------------------------------------


def role_users() -> dict:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {
        "superuser": User.objects.get(username="bench_superuser"),
        "desk": User.objects.get(username="bench_sportello_roma"),
        "manager": User.objects.get(username="bench_responsabile_roma"),
    }


def first_values(queryset, path: str, limit: int = 20) -> list:
    try:
        values = list(
            queryset.exclude(**{f"{path}__isnull": True}).values_list(path, flat=True)[:limit]
        )
    except Exception:  # a path the ORM cannot follow this way: no variant
        return []
    return [v for v in values if v not in ("", None)]


def rarest_value(queryset, path: str):
    """The least frequent value present (a filter's worst case for an ordered first page)."""
    from django.db.models import Count

    try:
        rows = list(
            queryset.order_by()
            .exclude(**{f"{path}__isnull": True})
            .values(path)
            .annotate(n=Count("pk"))
            .order_by("n")[:1]
        )
    except Exception:
        return None
    return rows[0][path] if rows else None


def variants_of(model_admin, cl, today: date) -> list[tuple[str, dict]]:
    """Search and filter variants of a change list: (label, query parameters)."""
    from django.contrib.admin.filters import (
        BooleanFieldListFilter,
        FieldListFilter,
        RelatedFieldListFilter,
        SimpleListFilter,
    )
    from unfold.contrib.filters.admin import RangeDateFilter, RangeDateTimeFilter

    variants = []
    fields = list(model_admin.search_fields or [])
    text = next((f for f in fields if f[0] not in "=^@"), None)
    exact = next((f for f in fields if f.startswith("=")), None)
    for label, field in (("search", text), ("search exact", exact)):
        if field is None:
            continue
        path = field.lstrip("=^@")
        values = first_values(cl.queryset, path)
        if values:
            variants.append((f"{label} {path}", {"q": str(values[0])}))
    for spec in getattr(cl, "filter_specs", []):
        params = None
        if isinstance(spec, SimpleListFilter):
            if spec.lookup_choices:
                params = {spec.parameter_name: str(spec.lookup_choices[0][0])}
        elif isinstance(spec, RangeDateFilter):
            params = {
                f"{spec.parameter_name}_from": (today - timedelta(days=7)).isoformat(),
                f"{spec.parameter_name}_to": today.isoformat(),
            }
        elif isinstance(spec, RangeDateTimeFilter):
            params = None  # none registered; its parameters are split date and time
        elif isinstance(spec, RelatedFieldListFilter):
            values = first_values(cl.queryset, spec.field_path, limit=1)
            if values:
                params = {spec.lookup_kwarg: str(values[0])}
        elif isinstance(spec, BooleanFieldListFilter):
            value = rarest_value(cl.root_queryset, spec.field_path)
            if value is not None:
                params = {spec.lookup_kwarg: "1" if value else "0"}
        elif isinstance(spec, FieldListFilter) and hasattr(spec, "lookup_kwarg"):
            value = rarest_value(cl.root_queryset, spec.field_path)
            if value is not None:
                params = {spec.lookup_kwarg: str(value)}
        if params:
            name = getattr(spec, "field_path", None) or getattr(spec, "parameter_name", "?")
            variants.append((f"filter {name}", params))
    return variants


class Page:
    def __init__(self, url: str, role: str, label: str):
        self.url, self.role, self.label = url, role, label
        self.times: list[float] = []
        self.queries: list[int] = []
        self.sql_ms: list[float] = []
        self.cpu: list[float] = []  # seconds: this process + its PostgreSQL backend
        self.slowest: list[tuple[float, str]] = []
        self.status: int | None = None
        self.error = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000 if self.times else float("nan")

    @property
    def max_ms(self) -> float:
        return max(self.times) * 1000 if self.times else float("nan")

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000 if self.cpu else float("nan")

    @property
    def query_count(self) -> int:
        return max(self.queries) if self.queries else 0

    @property
    def over_time(self) -> bool:
        return bool(self.times) and self.median_ms > GOAL_MS

    @property
    def over_queries(self) -> bool:
        return self.query_count > GOAL_QUERIES

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.over_time or self.over_queries


def backend_cpu_seconds() -> float | None:
    """CPU used so far by this connection's PostgreSQL backend (not its parallel workers)."""
    from django.db import connection

    connection.ensure_connection()
    try:
        pid = connection.connection.info.backend_pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (AttributeError, OSError):  # another driver, or the server runs elsewhere
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_get(client, url: str):
    """GET a page; return the response, wall seconds, CPU seconds (this process and its
    PostgreSQL backend, None if unknown) and the queries it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    backend = backend_cpu_seconds()
    with CaptureQueriesContext(connection) as captured:
        cpu = time.process_time()
        start = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    backend_after = backend_cpu_seconds()
    if backend is None or backend_after is None or backend_after < backend:
        total_cpu = None  # or reconnected meanwhile
    else:
        total_cpu = cpu + backend_after - backend
    return response, elapsed, total_cpu, captured.captured_queries


def measure_page(client, page: Page, repeat: int, warm_seconds: float | None = None) -> None:
    """One warm-up request (unless done already: its time given), then ``repeat`` timed ones.

    A page whose warm-up took more than ``SLOW_WARMUP`` seconds is timed twice only.
    """
    try:
        if warm_seconds is None:
            start = time.perf_counter()
            client.get(page.url)
            warm_seconds = time.perf_counter() - start
        if warm_seconds > SLOW_WARMUP:
            repeat = min(repeat, 2)
        runs = []
        for _ in range(repeat):
            response, elapsed, cpu, queries = timed_get(client, page.url)
            page.status = response.status_code
            if response.status_code != 200:
                page.error = f"HTTP {response.status_code}"
                return
            page.times.append(elapsed)
            if cpu is not None:
                page.cpu.append(cpu)
            page.queries.append(len(queries))
            query_ms = [(float(q["time"]) * 1000, q["sql"]) for q in queries]
            page.sql_ms.append(sum(ms for ms, _sql in query_ms))
            runs.append((elapsed, sorted(query_ms, key=lambda item: -item[0])[:3]))
        runs.sort(key=lambda run: run[0])
        page.slowest = runs[len(runs) // 2][1]  # the median run's slowest statements
    except Exception as exc:  # a page that breaks is a finding, not the end of the bench
        page.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
        from django.db import connection

        connection.close()  # a statement timeout leaves the connection in a failed state


def measure(args) -> list[Page]:
    from django.contrib import admin
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    users = role_users()
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    only = re.compile(args.only) if args.only else None
    today = timezone.localdate()
    pages: list[Page] = []
    for role in roles:
        client = Client()
        client.force_login(users[role])
        print(f"  as {role} ({users[role].username}) …", flush=True)
        # The dashboard as most see it (its figures kept a few minutes in the cache), and
        # computed again on each request (``?aggiorna=1``): what the first visitor after the
        # figures expire waits, unless the periodic task computed them ahead.
        targets = [
            ("dashboard", reverse("admin:index"), None),
            ("dashboard recomputed", f"{reverse('admin:index')}?aggiorna=1", None),
        ]
        for model, model_admin in admin.site._registry.items():
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            targets.append((f"{opts.app_label}.{opts.model_name}", url, model_admin))
        for label, url, model_admin in targets:
            base = Page(url, role, label)
            if model_admin is None:
                if not only or only.search(url):
                    measure_page(client, base, args.repeat)
                    pages.append(base)
                continue
            # The first request is the warm-up, and gives the change list to derive variants.
            try:
                start = time.perf_counter()
                response = client.get(url)
                warm_seconds = time.perf_counter() - start
            except Exception as exc:
                base.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
                pages.append(base)
                continue
            base.status = response.status_code
            if response.status_code != 200:
                base.error = f"HTTP {response.status_code}"
                pages.append(base)
                continue
            cl = (getattr(response, "context_data", None) or {}).get("cl")
            variants = [] if cl is None else variants_of(model_admin, cl, today)
            if not only or only.search(url):
                measure_page(client, base, args.repeat, warm_seconds)
                pages.append(base)
            for variant_label, params in variants:
                if args.no_filters and variant_label.startswith("filter"):
                    continue
                page = Page(f"{url}?{urlencode(params)}", role, f"{label} {variant_label}")
                if only and not only.search(page.url):
                    continue
                measure_page(client, page, args.repeat)
                pages.append(page)
    return pages


def report(pages: list[Page]) -> int:
    width = 66
    print(
        f"\n{'URL':<{width}} {'role':<9} {'median':>7} {'max':>7} {'SQL':>7} {'CPU':>7}"
        f" {'queries':>7} {'×300ms':>6} {'×15q':>5}"
    )
    print(f"{'':<{width}} {'':<9} {'ms':>7} {'ms':>7} {'ms':>7} {'ms':>7}")
    order = {}
    for page in pages:
        order.setdefault(page.url.split("?")[0], len(order))
    measured = [p for p in pages if not p.error.startswith("HTTP 403")]
    measured.sort(key=lambda p: (order[p.url.split("?")[0]], p.url, p.role))
    for page in measured:
        url = page.url if len(page.url) <= width else page.url[: width - 1] + "…"
        if page.error:
            print(f"{url:<{width}} {page.role:<9} ERROR {page.error}")
            continue
        marks = []
        if page.over_time:
            marks.append("SLOW")
        if page.over_queries:
            marks.append("QUERIES")
        print(
            f"{url:<{width}} {page.role:<9} {page.median_ms:7.0f} {page.max_ms:7.0f}"
            f" {statistics.median(page.sql_ms):7.0f} {page.cpu_ms:7.0f} {page.query_count:7d}"
            f" {page.median_ms / GOAL_MS:6.2f} {page.query_count / GOAL_QUERIES:5.2f}"
            f"  {' '.join(marks) or 'ok'}"
        )
    hidden = [p for p in pages if p.error.startswith("HTTP 403")]
    if hidden:
        by_role: dict[str, list[str]] = {}
        for page in hidden:
            by_role.setdefault(page.role, []).append(page.label)
        for role, labels in by_role.items():
            print(f"\n  not visible to {role} (403): {', '.join(labels)}")
    failed = [p for p in measured if p.failed]
    if failed:
        print("\nPages over the goals, with the slowest statements of their median request:")
        for page in sorted(failed, key=lambda p: -(p.median_ms if p.times else 1e9)):
            what = page.error or (
                f"{page.median_ms:.0f} ms, {page.query_count} queries, "
                f"{statistics.median(page.sql_ms):.0f} ms in SQL"
            )
            print(f"\n  {page.label} · {page.role} · {what}\n    {page.url}")
            for ms, statement in page.slowest:
                text = " ".join(statement.split())
                if len(text) > 400:  # the column list says little; FROM … WHERE … ORDER BY do
                    text = f"{text[:120]} … {text[-280:]}"
                print(f"      {ms:7.1f} ms  {text}")
    slow = sum(1 for p in measured if p.over_time)
    chatty = sum(1 for p in measured if p.over_queries)
    errors = sum(1 for p in measured if p.error)
    print(
        f"\nSUMMARY: {len(failed)} of {len(measured)} pages (URL × role) over the goals: "
        f"{slow} over {GOAL_MS:.0f} ms (median), {chatty} over {GOAL_QUERIES} queries, "
        f"{errors} errors; {len(hidden)} hidden from the role."
    )
    return len(failed)


def main() -> int:
    args = parse_args()
    marker = database_marker(args.database_url) if args.keep else None
    if marker is None:
        if args.keep:
            print("--keep: no complete bench database found, building one.")
        marker = build(args)
        built_now = True
    else:
        configure_django(args.database_url, ALLOWED_HOSTS="127.0.0.1,testserver")
        migrate()
        built_now = False
        if marker["sizes"] != sizes_of(args):
            print(
                f"--keep: reusing the database built with {marker['sizes']} "
                f"(not the sizes asked for: rebuild without --keep)."
            )
    from django.db import connection
    from django.db.backends.signals import connection_created

    def limit_statements(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")

    connection_created.connect(limit_statements)
    # A role's 403s are expected (they are listed as hidden): no traceback for each.
    for name in ("django.request", "django.security"):
        logging.getLogger(name).setLevel(logging.ERROR)
    connection.close()
    gc.collect()
    gc.freeze()

    server = f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    contents = marker["contents"]
    print(
        f"\nbench/admin_scale.py on {server} ({connection.settings_dict['NAME']}), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "data: "
        + ", ".join(f"{value:,} {name}" for name, value in contents.items())
        + f"\ndata building: {marker['build_seconds']:.0f} s "
        + ("(this run)" if built_now else f"(built {marker['built_at']}, reused with --keep)")
        + (f"; {marker['checks_failed']} FAILED CHECKS" if marker.get("checks_failed") else "")
    )
    print(
        f"\nMeasuring: each page once to warm up, then {args.repeat} times "
        f"(django.test.Client in-process, DEBUG off, statement timeout {STATEMENT_TIMEOUT})"
    )
    with stopwatch() as elapsed:
        pages = measure(args)
    failed = report(pages)
    print(f"measuring took {elapsed():.0f} s; load average now {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "data": marker,
                    "goals": {"ms": GOAL_MS, "queries": GOAL_QUERIES},
                    "pages": [
                        {
                            "url": p.url,
                            "role": p.role,
                            "label": p.label,
                            "median_ms": None if not p.times else round(p.median_ms, 1),
                            "max_ms": None if not p.times else round(p.max_ms, 1),
                            "sql_ms": None
                            if not p.sql_ms
                            else round(statistics.median(p.sql_ms), 1),
                            "cpu_ms": None if not p.cpu else round(p.cpu_ms, 1),
                            "queries": p.query_count,
                            "error": p.error,
                            "failed": p.failed,
                        }
                        for p in pages
                    ],
                    "failed": failed,
                },
                indent=1,
            )
        )
    return exit_status(marker=marker, pages=pages)


def exit_status(*, marker: dict, pages: list[Page]) -> int:
    """Say how the run went: 1 if the built data failed a check or a page broke, else 0.

    Pages over the goals are what the bench measures, not failures; a failed check of the
    books or a page that answers an error means the figures cannot be trusted.
    """
    checks_failed = marker.get("checks_failed", 0)
    page_errors = sum(1 for p in pages if p.error and not p.error.startswith("HTTP 403"))
    problems = []
    if checks_failed:
        problems.append(f"{checks_failed} failed checks of the built data")
    if page_errors:
        problems.append(f"{page_errors} pages answered with an error")
    if problems:
        print(f"FAILED: {'; '.join(problems)} (exit status 1).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
