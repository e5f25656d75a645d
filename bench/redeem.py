"""Redemptions per second through the API, against the same transaction sent straight to SQL.

Run with ``.venv/bin/python bench/redeem.py`` (PostgreSQL on 127.0.0.1:5432). It drops and
recreates the bench database, issues the vouchers through the services, starts gunicorn
with ``config.wsgi``, drives ``POST /api/v1/redemptions/`` from concurrent clients (keeping
connections alive where the worker class allows it) for a fixed time, then replays the SQL of one ``voucher_redeem`` call (captured from the
ORM) with psycopg from as many clients for as long, and prints both rates, their ratio, the
ratio of each to its target and a consistency check of the books. See bench/README.md.
"""

import argparse
import functools
import hashlib
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from queue import Empty
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_RATE = 1000.0  # redemptions per second on 2 cores
TARGET_RATIO = 0.35  # API rate / direct SQL rate
AMOUNT = Decimal("0.01")
REDEEM_PATH = "/api/v1/redemptions/"
WORKER_CLASSES = {
    "loop": "core.gunicorn_worker.LoopWorker",
    "gthread": "gthread",
    "sync": "sync",
}


# --- set-up ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured time before each")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="processes the clients are spread over (each runs clients/processes threads)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class",
        default="loop",
        choices=sorted(WORKER_CLASSES),
        help="gunicorn worker class: loop is core.gunicorn_worker.LoopWorker (bench/README.md)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--http-parser",
        default="auto",
        choices=["auto", "fast", "python"],
        help="gunicorn's HTTP parser: fast is the C one (gunicorn_h1c), auto uses it if installed",
    )
    parser.add_argument(
        "--server-python",
        default=sys.executable,
        help="the app servers' interpreter: gunicorn is taken from its directory"
        " (a virtualenv's bin/python; default: the bench's own)",
    )
    parser.add_argument("--vouchers", type=int, default=20_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/buonocomune_bench"
    )
    parser.add_argument("--skip-direct", action="store_true", help="measure the API only")
    args = parser.parse_args()
    if args.clients < 1 or args.client_processes < 1:
        parser.error("--clients and --client-processes must be at least 1")
    args.client_processes = min(args.client_processes, args.clients)
    return args


def recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"unexpected database name {name!r}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure_django(database_url: str) -> dict[str, str]:
    """Set the environment the bench process and gunicorn share, and set Django up."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "BUONOCOMUNE_ENV": "development",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",  # persistent connections in every worker
        "LOG_LEVEL": "WARNING",
        # WhiteNoise warns that staticfiles/ was not built; the API does not need it.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    return env


def create_circuit(*, vouchers: int) -> dict:
    """An initiative with enough budget, a shop in its circuit with a device key, vouchers."""
    from django.db import transaction
    from django.utils import timezone
    from stdnum.it import codicefiscale

    from core.models import Fund, Organization
    from core.services.funding import _contribution_record as contribution_record
    from merchants.models import Merchant
    from merchants.services.accreditation import merchant_set_status
    from merchants.services.devices import device_key_create
    from vouchers.models import Beneficiary, Initiative, SpendingCategory
    from vouchers.services.budget import initiative_assign_budget
    from vouchers.services.issuing import voucher_issue_bulk

    face_value = Decimal("100.00")
    per_holder = 20
    holders = -(-vouchers // per_holder)
    budget = face_value * per_holder * holders
    today = timezone.localdate()
    municipality = Organization.objects.create(
        kind=Organization.Kind.MUNICIPALITY, name="Comune di Prova", istat_code="058091"
    )
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    funder = Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name="Fondazione",
        funder_kind=Organization.FunderKind.FOUNDATION,
    )
    fund = Fund.objects.create(name="Fondo bench", manager=agency)
    contribution_record(fund=fund, funder=funder, amount=budget, received_on=today)
    food = SpendingCategory.objects.create(slug="alimentari", name="Alimentari")
    initiative = Initiative.objects.create(
        title="Bando bench",
        fund=fund,
        face_value=face_value,
        partial_allowed=True,
        valid_from=today.replace(day=1),
        valid_until=date(today.year + 1, 12, 31),
        status=Initiative.Status.PUBLISHED,
    )
    initiative.municipalities.set([municipality])
    initiative.allowed_categories.set([food])
    initiative_assign_budget(initiative=initiative, amount=budget)
    shop = Merchant.objects.create(
        name="Alimentari Bench",
        vat_number="00000010215",
        iban="IT60X0542811101000000123456",
        street="Via Roma 1",
        postal_code="00100",
        town="Roma",
    )
    shop.categories.set([food])
    shop.municipalities.set([municipality])
    merchant_set_status(merchant=shop, status=Merchant.Status.ACCREDITED)
    device, raw_key = device_key_create(merchant=shop, name="Cassa bench")

    def fiscal_code(n: int) -> str:
        letters = "".join(chr(65 + (n // 26**i) % 26) for i in range(6))
        body = f"{letters}80A01H501"
        return body + codicefiscale.calc_check_digit(body)

    with transaction.atomic():
        beneficiaries = Beneficiary.objects.bulk_create(
            [
                Beneficiary(
                    fiscal_code=fiscal_code(n),
                    first_name="Maria",
                    last_name=f"Bianchi {n}",
                    municipality=municipality,
                )
                for n in range(holders)
            ],
            batch_size=2000,
        )
    issued = voucher_issue_bulk(
        initiative=initiative, beneficiaries=beneficiaries, quantity=per_holder
    )[:vouchers]
    return {
        "initiative": initiative,
        "merchant": shop,
        "device": device,
        "key": raw_key,
        "vouchers": [(v.pk, v.code) for v in issued],
    }


# --- what one redemption costs in SQL -------------------------------------------------


def api_queries_per_redemption(circuit: dict) -> list[str]:
    """Run one real API request in-process, through ``config.wsgi``, and return its SQL."""
    import json

    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import application

    _, code = circuit["vouchers"][-1]
    answer = []

    def start_response(status, headers):
        answer.append(status)

    # The first request may write the device's last_used_at; count a later one.
    for n in range(2):
        environ = (
            RequestFactory(HTTP_HOST="127.0.0.1")
            .post(
                REDEEM_PATH,
                json.dumps({"code": code, "amount": "0.01"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {circuit['key']}",
                HTTP_IDEMPOTENCY_KEY=f"bench-count-{n}",
            )
            .environ
        )
        with CaptureQueriesContext(connection) as captured:
            response = application(environ, start_response)
            b"".join(response)
            response.close()
        assert answer[-1].startswith("201"), answer
    return [query["sql"] for query in captured.captured_queries]


def capture_redemption_sql(circuit: dict, key_prefix: str = "bench") -> list[tuple]:
    """Record the statements of two ``voucher_redeem`` calls with different values.

    Returns ``(sql, params, in_transaction, returning)`` tuples where each parameter is
    either ``("const", value)`` or ``("role", name)``: a position whose value changed
    between the two calls is matched to what it stands for (code, voucher id, amount…).
    """
    from django.db import connection

    from merchants.services.redemption import voucher_redeem
    from merchants.services.tills import Till

    till = Till(merchant=circuit["merchant"], device=circuit["device"])
    runs = []
    for n, ((voucher_id, code), warm, amount) in enumerate(
        [(circuit["vouchers"][-2], "1.00", "0.37"), (circuit["vouchers"][-3], "2.00", "0.53")]
    ):
        # A first spend makes the balance differ from the face value, as in the bench.
        voucher_redeem(till=till, code=code, amount=warm, idempotency_key=f"{key_prefix}-warm-{n}")
        statements = []

        def record(execute, sql, params, many, context, statements=statements):
            statements.append((sql, tuple(params or ()), many, connection.in_atomic_block))
            return execute(sql, params, many, context)

        key = f"{key_prefix}-capture-{n}"
        with connection.execute_wrapper(record):
            result = voucher_redeem(till=till, code=code, amount=amount, idempotency_key=key)
        if result.replayed:
            raise RuntimeError(f"{key} was used before: the capture must be a new redemption")
        redemption = result.redemption
        amount = Decimal(amount)
        roles = {
            "code": code,
            "voucher_id": voucher_id,
            "amount": amount,
            "minus_amount": -amount,
            "balance_after": redemption.balance_after,
            "journal_id": redemption.journal_id,
            "redemption_id": redemption.pk,
            "key": key,
            "request_hash": hashlib.sha256(f"{code}|{amount}".encode()).hexdigest(),
            "memo": f"{circuit['merchant'].name} · …{code[-4:]}",
        }
        runs.append((statements, roles))

    (first, roles1), (second, roles2) = runs
    if [_shape(s[0]) for s in first] != [_shape(s[0]) for s in second]:
        raise RuntimeError("two redemptions sent different SQL: cannot replay one shape")
    plan = []
    for (sql, params1, many, in_transaction), (_, params2, _, _) in zip(first, second, strict=True):
        if many:
            raise RuntimeError(f"executemany is not replayed: {sql[:80]}")
        params = [
            _classify(value1, value2, roles1, roles2, sql)
            for value1, value2 in zip(params1, params2, strict=True)
        ]
        returning = None
        if sql.startswith('INSERT INTO "core_journal"'):
            returning = "journal_id"
        elif sql.startswith('INSERT INTO "merchants_redemption"'):
            returning = "redemption_id"
        plan.append((sql, params, in_transaction, returning))
    if not any(" FOR UPDATE" in sql or "bc_voucher_redeem(" in sql for sql, *_ in plan):
        raise RuntimeError("the captured redemption locks no voucher")
    return plan


def _classify(value1, value2, roles1: dict, roles2: dict, sql: str) -> tuple:
    """Say what a parameter is: a constant, or the role both its values play."""
    if value1 == value2:
        return ("const", _plain(value1))
    if isinstance(value1, list | tuple) and len(value1) == len(value2):
        # bulk_create sends one array per column (INSERT … SELECT * FROM UNNEST(…)).
        return (
            "list",
            [_classify(a, b, roles1, roles2, sql) for a, b in zip(value1, value2, strict=True)],
        )
    if isinstance(value1, datetime):
        return ("role", "now")
    names = [name for name in roles1 if _same(roles1[name], value1) and _same(roles2[name], value2)]
    if len(names) != 1:
        raise RuntimeError(f"cannot tell what {value1!r} is in {sql[:120]}")
    # Keep psycopg's typed wrappers (Int8 in bulk_create's arrays) so that the SQL types match.
    wrapper = type(value1) if type(value1) not in (int, str, Decimal) else None
    return ("role", (names[0], wrapper))


def _plain(value):
    """Django's choices are str subclasses: send plain strings to the client processes."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    return value


def _value(spec: tuple, values: dict):
    kind, value = spec
    if kind == "const":
        return value
    if kind == "list":
        return [_value(item, values) for item in value]
    if value == "now":
        return datetime.now(UTC)
    name, wrapper = value
    return wrapper(values[name]) if wrapper else values[name]


def _same(expected, value) -> bool:
    if isinstance(expected, Decimal) and isinstance(value, int | str | Decimal):
        try:
            return Decimal(value) == expected
        except ArithmeticError:
            return False
    if isinstance(expected, int) and isinstance(value, int):
        return expected == value
    return type(expected) is type(value) and expected == value


def _shape(sql: str) -> str:
    """The statement without its savepoint name, which changes with every transaction."""
    return re.sub(r"\bs\d+_x\d+\b", "s_x", sql)


def describe(sql: str) -> str:
    """A short name for a statement: ``SELECT … FOR UPDATE vouchers_voucher``."""
    if "bc_voucher_redeem(" in sql:
        # With server-side binding Django logs it as "QUERY = '…' - PARAMS = (…)".
        return "SELECT bc_voucher_redeem(…)"
    verb = sql.split(None, 1)[0].upper() if sql.strip() else ""
    if verb in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK"):
        return verb
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    table = match.group(1) if match else ""
    if verb == "SELECT" and " FOR UPDATE" in sql:
        verb = "SELECT…FOR UPDATE"
    elif verb == "SELECT" and "COUNT(" in sql.upper():
        verb = "SELECT COUNT"
    elif verb == "SELECT" and sql.startswith("SELECT 1 AS"):
        verb = "SELECT EXISTS"
    return f"{verb} {table}"


# --- load: the API --------------------------------------------------------------------


class KeepAliveConnection:
    """A minimal HTTP/1.1 client: fast enough not to be the bottleneck in Python."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer = b""

    def request(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock.sendall(data)
            return self._response()
        except Exception:
            self.close()
            raise

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _response(self) -> tuple[int, bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._recv()
        lines = self.buffer[:end].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ConnectionError("chunked responses are not expected")
        start = end + 4
        while len(self.buffer) < start + length:
            self._recv()
        body = self.buffer[start : start + length]
        self.buffer = self.buffer[start + length :]
        if close:
            self.close()
        return status, body


def _run_threads(count: int, target, *args) -> list:
    results: list = [None] * count
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = target(index, *args)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def _tally() -> dict:
    """One client's count: requests sent, outcomes and latencies in the measured window."""
    return {"statuses": Counter(), "latencies": [], "errors": Counter(), "samples": {}, "sent": 0}


def _merge(results: list[dict]) -> dict:
    merged = _tally()
    for result in results:
        merged["sent"] += result["sent"]
        merged["statuses"].update(result["statuses"])
        merged["latencies"].extend(result["latencies"])
        merged["errors"].update(result["errors"])
        merged["samples"].update(result["samples"])
    return merged


def api_client_process(job: dict) -> dict:
    """Run ``job['threads']`` keep-alive clients until the deadline; keep measured results."""

    def client(index: int, job: dict) -> dict:
        rng = random.Random(f"{job['name']}-{index}")
        host_header = f"Host: 127.0.0.1:{job['port']}\r\n"
        head = (
            f"POST {REDEEM_PATH} HTTP/1.1\r\n{host_header}"
            f"Authorization: Token {job['key']}\r\nContent-Type: application/json\r\n"
        ).encode()
        codes = job["codes"]
        connection = KeepAliveConnection("127.0.0.1", job["port"])
        out = _tally()
        while time.time() < job["start"]:
            time.sleep(0.01)
        n = 0
        while True:
            begin = time.time()
            if begin >= job["deadline"]:
                break
            n += 1
            out["sent"] += 1
            body = b'{"code":"%s","amount":"0.01"}' % codes[rng.randrange(len(codes))].encode()
            data = (
                head
                + f"Idempotency-Key: {job['name']}-{index}-{n}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            try:
                status, reply = connection.request(data)
            except OSError as exc:
                status, reply = None, type(exc).__name__.encode()
            end = time.time()
            if begin < job["measure_from"] or end > job["deadline"]:
                continue
            if status == 201:
                out["latencies"].append(end - begin)
            else:
                out["errors"][status or reply.decode()] += 1
                out["samples"].setdefault(status, reply[:300].decode(errors="replace"))
            out["statuses"][status] += 1
        connection.close()
        return out

    return _merge(_run_threads(job["threads"], client, job))


# --- load: the same SQL, straight to PostgreSQL ---------------------------------------


def direct_client_process(job: dict) -> dict:
    """Replay the captured redemption with psycopg from ``job['threads']`` connections."""
    import psycopg

    plan = job["plan"]
    memo_prefix = job["memo_prefix"]

    def client(index: int, job: dict) -> dict:
        rng = random.Random(f"{job['name']}-{index}")
        vouchers = job["vouchers"]
        out = _tally()
        # As the app sends it: on PostgreSQL the redemption's one statement goes with
        # server-side binding, prepared (merchants.services.redemption._prepared_cursor).
        conn = psycopg.connect(job["dsn"], autocommit=True, prepare_threshold=0)
        while time.time() < job["start"]:
            time.sleep(0.01)
        n = 0
        while True:
            begin = time.time()
            if begin >= job["deadline"]:
                break
            n += 1
            out["sent"] += 1
            voucher_id, code = vouchers[rng.randrange(len(vouchers))]
            key = f"{job['name']}-{index}-{n}"
            values = {
                "code": code,
                "voucher_id": voucher_id,
                "amount": AMOUNT,
                "minus_amount": -AMOUNT,
                "key": key,
                "request_hash": hashlib.sha256(f"{code}|{AMOUNT}".encode()).hexdigest(),
                "memo": f"{memo_prefix}{code[-4:]}",
            }
            try:
                _replay_once(conn, plan, values)
                status = "committed"
            except psycopg.Error as exc:
                status = type(exc).__name__
                if not conn.autocommit:
                    conn.rollback()
                    conn.autocommit = True
            end = time.time()
            if begin < job["measure_from"] or end > job["deadline"]:
                continue
            if status == "committed":
                out["latencies"].append(end - begin)
            else:
                out["errors"][status] += 1
            out["statuses"][status] += 1
        conn.close()
        return out

    return _merge(_run_threads(job["threads"], client, job))


def _replay_once(conn, plan: list[tuple], values: dict) -> None:
    """One redemption: the statements Django sent, in order, in and out of its transaction.

    Django runs the idempotency look-up in autocommit mode, then turns autocommit off for
    ``transaction.atomic`` (psycopg sends BEGIN before the first statement) and commits.
    """
    in_transaction = False
    for sql, params, atomic, returning in plan:
        if atomic and not in_transaction:
            conn.autocommit = False
            in_transaction = True
        cursor = conn.execute(sql, [_value(spec, values) for spec in params])
        if " FOR UPDATE" in sql:
            row = cursor.fetchone()
            balance = row[[column.name for column in cursor.description].index("balance")]
            values["balance_after"] = balance - values["amount"]
        elif returning is not None:
            values[returning] = cursor.fetchone()[0]
        elif cursor.description is not None:
            cursor.fetchall()
    if in_transaction:
        conn.commit()
        conn.autocommit = True


# --- measuring ------------------------------------------------------------------------


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    try:
        fields = _stat_fields(Path(f"/proc/{pid}"))
    except OSError:
        return 0.0  # the process has exited
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_cpu() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, not idle or iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat_fields(entry)[1]) == parent:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _stat_fields(entry: Path) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, …)."""
    return (entry / "stat").read_text().rsplit(")", 1)[1].split()


class CpuMeter:
    """CPU seconds used during a phase by gunicorn and by the bench database's backends.

    Only processes that exist when the measured window opens are followed, so that other
    work on the machine (or another database on the same server) is not counted.
    """

    def __init__(self, *, dsn: str, gunicorn_pid: int | None):
        self.dsn = dsn
        self.gunicorn_pid = gunicorn_pid

    def _sample(self) -> dict[str, float]:
        return {
            "app": sum(_process_cpu(pid) for pid in self.app_pids),
            "PostgreSQL": sum(_process_cpu(pid) for pid in self.database_pids),
            "whole machine": _machine_busy_cpu(),
        }

    def start(self) -> None:
        import psycopg

        self.app_pids = (
            [self.gunicorn_pid, *_children(self.gunicorn_pid)] if self.gunicorn_pid else []
        )
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        self.database_pids = [row[0] for row in rows]
        self.before, self.started = self._sample(), time.time()

    def stop(self) -> dict[str, float]:
        after, wall = self._sample(), time.time() - self.started
        return {key: (after[key] - self.before[key]) / wall for key in after}


def database_transactions(dsn: str) -> int:
    """Transactions committed in the bench database, from PostgreSQL's statistics."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(
            conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()[0]
        )


def _client_process(target, job: dict, results) -> None:
    """Run one process's clients; measure its own CPU over the measured window."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    cpu = {}

    def meter() -> None:
        for mark in ("measure_from", "deadline"):
            while time.time() < job[mark]:
                time.sleep(0.005)
            cpu[mark] = _own_cpu()

    watcher = threading.Thread(target=meter, daemon=True)
    watcher.start()
    try:
        result = target(job)
    except BaseException as exc:
        results.put({"failure": f"{job['name']}: {type(exc).__name__}: {exc}"})
        raise
    watcher.join()
    result["cpu"] = cpu["deadline"] - cpu["measure_from"]
    results.put(result)


def run_phase(name: str, target, base_job: dict, args, cpu: CpuMeter, finish=None) -> dict:
    """Run the clients for warm-up + measured time; ``finish`` runs once they are done."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    count = args.client_processes
    threads = [args.clients // count + (i < args.clients % count) for i in range(count)]
    transactions_before = database_transactions(cpu.dsn)
    start = time.time() + 2.0  # time for the processes to start and connect
    measure_from = start + args.warmup
    deadline = measure_from + args.seconds
    queue = context.Queue()
    processes = [
        context.Process(
            target=_client_process,
            args=(
                target,
                {
                    **base_job,
                    "name": f"{name}{i}",
                    "threads": threads[i],
                    "start": start,
                    "measure_from": measure_from,
                    "deadline": deadline,
                },
                queue,
            ),
        )
        for i in range(count)
    ]
    for process in processes:
        process.start()
    try:
        while time.time() < measure_from:
            time.sleep(0.005)
        cpu.start()
        while time.time() < deadline:
            time.sleep(0.005)
        busy = cpu.stop()
        results = []
        while len(results) < len(processes):
            try:
                results.append(queue.get(timeout=1))
            except Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead or time.time() > deadline + 60:
                    raise RuntimeError(
                        f"{len(dead)} client processes died before reporting"
                    ) from None
    except BaseException:
        for process in processes:  # Ctrl-C or a failure: stop the clients now
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        if finish is not None:
            finish()
    failures = [r["failure"] for r in results if "failure" in r]
    if failures:
        raise RuntimeError("a client process failed: " + "; ".join(failures))
    merged = _merge(results)
    merged["seconds"] = args.seconds
    merged["busy"] = {**busy, "load generator": sum(r["cpu"] for r in results) / args.seconds}
    # Backends report their statistics when they exit: by now every client has hung up.
    time.sleep(0.5)
    merged["transactions"] = database_transactions(cpu.dsn) - transactions_before
    return merged


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(title: str, result: dict, *, unit: str, cores: int) -> tuple[float, float | None]:
    """Print a phase's figures; return its rate and the rate projected on idle cores."""
    done = len(result["latencies"])
    rate = done / result["seconds"]
    errors = sum(result["errors"].values())
    print(f"\n== {title}")
    print(
        f"  {rate:,.0f} {unit}/s   ({done:,} in {result['seconds']:.0f} s, {errors} errors)"
        f"   latency p50 {percentile(result['latencies'], 0.50) * 1000:.1f} ms"
        f"   p99 {percentile(result['latencies'], 0.99) * 1000:.1f} ms"
    )
    if errors:
        print(f"  errors: {dict(result['errors'])}")
        for status, sample in result["samples"].items():
            print(f"    {status}: {sample}")
    busy = dict(result["busy"])
    machine = busy.pop("whole machine")
    busy["everything else on the machine"] = max(0.0, machine - sum(busy.values()))
    print(
        f"  CPU, cores busy of {cores}: "
        + " · ".join(f"{who} {value:.2f}" for who, value in busy.items())
    )
    ours = machine - busy["everything else on the machine"]
    projected = rate / ours * cores if ours > 0 else None
    if projected:
        # Other work on a shared machine takes cores from the bench: the rate per core-second
        # the bench's own processes used is steadier, and times the cores it is what an
        # otherwise idle machine would do (if nothing else, such as lock waits, limits it).
        print(
            f"  {rate / ours:,.0f} {unit} per core-second of the bench's processes"
            f" → ≈ {projected:,.0f}/s if the {cores} cores did nothing else"
        )
    if result["sent"]:
        print(
            "  PostgreSQL transactions per request:"
            f" {result['transactions'] / result['sent']:.2f}"
            " (each autocommit statement is one, the redemption's atomic block one more)"
        )
    return rate, projected


# --- gunicorn -------------------------------------------------------------------------


_PYTHON_INFO = """
import platform, sysconfig
flags = sysconfig.get_config_var("CONFIG_ARGS") or ""
built = [name for flag, name in (("--enable-optimizations", "PGO"), ("--with-lto", "LTO"))
         if flag in flags]
try:
    import gunicorn_h1c
except ImportError:
    h1c = False
else:
    h1c = True
print(platform.python_version(), "+".join(built) or "-", int(h1c))
"""


@functools.cache
def server_python(python: str) -> tuple[str, str, bool]:
    """The servers' interpreter: its version, how it was built, whether gunicorn_h1c is there."""
    out = subprocess.run(
        [python, "-c", _PYTHON_INFO], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], out[1], out[2] == "1"


def describe_server_python(python: str) -> str:
    version, built, _ = server_python(python)
    how = f"built with {built}" if built != "-" else "built without PGO or LTO"
    return f"Python {version} ({how}): {python}"


def http_parser_in_use(args) -> str:
    """gunicorn's parser: its C one (``make bench`` installs ``.[tills]``) or Python's."""
    installed = server_python(args.server_python)[2]
    if args.http_parser == "python" or not installed:
        return "Python" + (
            "" if installed else " (gunicorn_h1c not installed: pip install '.[tills]')"
        )
    return "C (gunicorn_h1c)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _empty_gunicorn_config() -> Path:
    path = Path(tempfile.gettempdir()) / "buonocomune-bench-gunicorn.conf.py"
    path.write_text("# bench/redeem.py gives every setting on gunicorn's command line.\n")
    return path


def start_gunicorn(args, env: dict, port: int, key: str, cwd: Path = BASE_DIR) -> subprocess.Popen:
    command = [
        str(Path(getattr(args, "server_python", None) or sys.executable).with_name("gunicorn")),
        "config.wsgi:application",
        # Not the repository's gunicorn.conf.py: its access log and max_requests restarts
        # would be measured too. Every setting that matters is given here.
        "--config",
        str(_empty_gunicorn_config()),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        WORKER_CLASSES[args.worker_class],
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
        "--http-parser",
        args.http_parser,
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, start_new_session=True)
    try:
        _wait_until_serving(process, port, key)
    except BaseException:
        stop_gunicorn(process)
        raise
    return process


def _wait_until_serving(process: subprocess.Popen, port: int, key: str) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            probe = KeepAliveConnection("127.0.0.1", port)
            status, body = probe.request(
                f"GET {REDEEM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Token {key}\r\n\r\n".encode()
            )
            probe.close()
        except OSError:
            time.sleep(0.1)
            continue
        if status != 200:
            raise RuntimeError(f"gunicorn answered {status}: {body[:300]!r}")
        return
    raise RuntimeError("gunicorn did not answer within 30 s")


def stop_gunicorn(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- consistency ----------------------------------------------------------------------


def check_books(circuit: dict) -> bool:
    from django.db import connection
    from django.db.models import F, Sum

    from core.models import Account, Posting
    from core.selectors import unbalanced_journals
    from merchants.models import Redemption
    from merchants.selectors import merchant_payable
    from vouchers.models import Voucher

    connection.close()  # the bench's own connection may be old: start afresh
    zero = Decimal("0.00")
    redeemed = (
        Redemption.objects.filter(status=Redemption.Status.CONFIRMED).aggregate(
            total=Sum("amount")
        )["total"]
        or zero
    )
    vouchers = Voucher.objects.filter(initiative=circuit["initiative"])
    debited = vouchers.aggregate(total=Sum(F("face_value") - F("balance")))["total"] or zero
    balances = vouchers.aggregate(total=Sum("balance"))["total"] or zero
    outstanding = (
        Posting.objects.filter(account__kind=Account.Kind.VOUCHERS_OUTSTANDING).aggregate(
            total=Sum("amount")
        )["total"]
        or zero
    )
    payable = merchant_payable(merchant_id=circuit["merchant"].pk)
    negative = vouchers.filter(balance__lt=0).count()
    unbalanced = unbalanced_journals().count()
    checks = [
        (f"sum of redemptions € {redeemed} == sum of debits € {debited}", redeemed == debited),
        (
            f"vouchers' balances € {balances} == ledger outstanding € {outstanding}",
            balances == outstanding,
        ),
        (f"shop's payable in the ledger € {payable} == redemptions", payable == redeemed),
        (f"unbalanced journals: {unbalanced}", unbalanced == 0),
        (f"vouchers below zero: {negative}", negative == 0),
    ]
    print("\n== consistency")
    for text, ok in checks:
        print(f"  {'ok ' if ok else 'FAIL'} {text}")
    return all(ok for _, ok in checks)


# --- main -----------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    cores = os.cpu_count() or 1
    print(
        f"bench/redeem.py: {args.clients} clients in {args.client_processes} processes,"
        f" {args.seconds:.0f} s per phase (+{args.warmup:.0f} s warm-up), {cores} cores"
    )
    recreate_database(args.database_url)
    env = configure_django(args.database_url)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    started = time.time()
    circuit = create_circuit(vouchers=args.vouchers)
    print(f"set-up: {len(circuit['vouchers']):,} vouchers issued in {time.time() - started:.1f} s")

    api_sql = api_queries_per_redemption(circuit)
    print(f"\nSQL of one API redemption (in-process): {len(api_sql)} statements")
    print("  " + " · ".join(describe(sql) for sql in api_sql))
    plan = capture_redemption_sql(circuit)
    print(f"SQL of one voucher_redeem call replayed directly: {len(plan)} statements")
    connections.close_all()  # no connection may cross into the client processes

    dsn = args.database_url.replace("postgres://", "postgresql://", 1)
    vouchers = circuit["vouchers"][: -3 or None]  # the last three served the captures
    gunicorn = None
    interrupted = False

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even if started with SIGINT ignored
    try:
        port = free_port()
        gunicorn = start_gunicorn(args, env, port, circuit["key"])
        print(
            f"\ngunicorn: {args.workers} {args.worker_class} workers"
            + (f" × {args.threads} threads" if args.worker_class == "gthread" else "")
            + f" on 127.0.0.1:{port}, HTTP parser: {http_parser_in_use(args)}"
            + f"\n          {describe_server_python(args.server_python)}"
        )
        api = run_phase(
            "api",
            api_client_process,
            {"port": port, "key": circuit["key"], "codes": [c for _, c in vouchers]},
            args,
            CpuMeter(dsn=dsn, gunicorn_pid=gunicorn.pid),
            finish=lambda: stop_gunicorn(gunicorn),
        )
        api_rate, api_projected = report(
            "API: POST /api/v1/redemptions/", api, unit="redemptions", cores=cores
        )
        direct_rate = direct_projected = None
        if not args.skip_direct:
            direct = run_phase(
                "sql",
                direct_client_process,
                {
                    "dsn": dsn,
                    "plan": plan,
                    "vouchers": vouchers,
                    "memo_prefix": f"{circuit['merchant'].name} · …",
                },
                args,
                CpuMeter(dsn=dsn, gunicorn_pid=None),
            )
            direct_rate, direct_projected = report(
                "direct: the same SQL with psycopg", direct, unit="transactions", cores=cores
            )
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted")
    finally:
        stop_gunicorn(gunicorn)
    if interrupted:
        return 130

    print("\n== against the targets (measured; in brackets, projected on idle cores)")
    print(
        f"  API rate      {api_rate:8,.0f} /s   target ≥ {TARGET_RATE:,.0f} /s"
        f"   → {api_rate / TARGET_RATE:.2f} of the target"
        + (
            f"   [{api_projected:,.0f} /s → {api_projected / TARGET_RATE:.2f}]"
            if api_projected
            else ""
        )
    )
    if direct_rate:
        ratio = api_rate / direct_rate
        print(
            f"  API / direct  {ratio:8.2f}      target ≥ {TARGET_RATIO:.2f}"
            f"       → {ratio / TARGET_RATIO:.2f} of the target"
            + (
                f"   [{api_projected / direct_projected:.2f}"
                f" → {api_projected / direct_projected / TARGET_RATIO:.2f}]"
                if api_projected and direct_projected
                else ""
            )
        )
    return 0 if check_books(circuit) else 1


if __name__ == "__main__":
    sys.exit(main())
