"""Two till servers against one database, measured in alternating short rounds.

On a shared machine the speed of the cores drifts by half within minutes, so two runs of
``bench/redeem.py`` minutes apart cannot tell a 10 % change from the drift. This script
starts both servers at once (say, this tree and an older commit checked out elsewhere, or
two worker classes), then loads one and the other in turn, a few seconds each, and prints
per round and in the median the rate and the CPU each redemption cost the app and the
database: the pairs share the machine's state of the moment.

    .venv/bin/python bench/redeem_ab.py --b-worker gthread
    git worktree add /tmp/before HEAD~1
    .venv/bin/python bench/redeem_ab.py --a-tree /tmp/before --rounds 10

Both trees must share the database schema (this tree's migrations are applied).
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import redeem  # noqa: E402 (bench/redeem.py, next to this file)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for side in ("a", "b"):
        parser.add_argument(f"--{side}-tree", default=str(redeem.BASE_DIR))
        parser.add_argument(
            f"--{side}-python",
            default=sys.executable,
            help="the interpreter of a virtualenv with the project's dependencies",
        )
        parser.add_argument(
            f"--{side}-worker", default="loop", choices=sorted(redeem.WORKER_CLASSES)
        )
        parser.add_argument(f"--{side}-workers", type=int, default=3)
        parser.add_argument(f"--{side}-threads", type=int, default=1)
        parser.add_argument(
            f"--{side}-http-parser", default="auto", choices=["auto", "fast", "python"]
        )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured time per turn")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--vouchers", type=int, default=20_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/buonocomune_bench_ab"
    )
    parser.add_argument(
        "--explain-slower-than",
        type=float,
        metavar="MS",
        help="log the plans of statements slower than MS milliseconds (auto_explain)",
    )
    return parser.parse_args()


def start(args, side: str, env: dict, key: str):
    tree = getattr(args, f"{side}_tree")
    server = argparse.Namespace(
        worker_class=getattr(args, f"{side}_worker"),
        workers=getattr(args, f"{side}_workers"),
        threads=getattr(args, f"{side}_threads"),
        http_parser=getattr(args, f"{side}_http_parser"),
        server_python=getattr(args, f"{side}_python"),
    )
    port = redeem.free_port()
    side_env = {**env, "PYTHONPATH": tree}
    process = redeem.start_gunicorn(server, side_env, port, key, cwd=tree)
    return process, port


def main() -> int:
    args = parse_args()
    redeem.recreate_database(args.database_url)
    env = redeem.configure_django(args.database_url)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    circuit = redeem.create_circuit(vouchers=args.vouchers)
    if args.explain_slower_than is not None:
        # Plans of the statements slower than this, the function's own included, go to
        # PostgreSQL's log (the servers' connections open after this).
        name = args.database_url.rsplit("/", 1)[1]
        slower = f"{args.explain_slower_than:g}ms"
        with connections["default"].cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {name} SET session_preload_libraries = 'auto_explain'")
            cursor.execute(f"ALTER DATABASE {name} SET auto_explain.log_min_duration = '{slower}'")
            cursor.execute(f"ALTER DATABASE {name} SET auto_explain.log_nested_statements = on")
    connections.close_all()
    dsn = args.database_url.replace("postgres://", "postgresql://", 1)
    codes = [code for _, code in circuit["vouchers"]]
    servers = {}
    figures = {"a": [], "b": []}
    try:
        for side in ("a", "b"):
            servers[side] = start(args, side, env, circuit["key"])
            print(
                f"{side.upper()}: {getattr(args, f'{side}_tree')}"
                f" · {getattr(args, f'{side}_workers')} {getattr(args, f'{side}_worker')} workers"
                f" on port {servers[side][1]}"
                f"\n   {redeem.describe_server_python(getattr(args, f'{side}_python'))}"
            )
        for round_number in range(args.rounds):
            order = ("a", "b") if round_number % 2 == 0 else ("b", "a")
            line = []
            for side in order:
                process, port = servers[side]
                result = redeem.run_phase(
                    f"{side}{round_number}",
                    redeem.api_client_process,
                    {"port": port, "key": circuit["key"], "codes": codes},
                    args,
                    redeem.CpuMeter(dsn=dsn, gunicorn_pid=process.pid),
                )
                done = len(result["latencies"])
                if sum(result["errors"].values()):
                    print(f"  {side.upper()} errors: {dict(result['errors'])}")
                rate = done / args.seconds
                busy = result["busy"]
                figure = {
                    "rate": rate,
                    "app_ms": 1000 * busy["app"] / rate if rate else float("nan"),
                    "db_ms": 1000 * busy["PostgreSQL"] / rate if rate else float("nan"),
                }
                figures[side].append(figure)
                line.append(
                    f"{side.upper()} {rate:6,.0f}/s app {figure['app_ms']:.2f} ms"
                    f" db {figure['db_ms']:.2f} ms"
                )
            print(f"round {round_number + 1:2d}: " + "   ".join(line))
    finally:
        for process, _port in servers.values():
            redeem.stop_gunicorn(process)

    print("\nmedians (CPU per redemption)")
    for side in ("a", "b"):
        rows = figures[side]
        print(
            f"  {side.upper()}: {statistics.median(r['rate'] for r in rows):6,.0f}/s"
            f"   app {statistics.median(r['app_ms'] for r in rows):.2f} ms"
            f"   db {statistics.median(r['db_ms'] for r in rows):.2f} ms"
        )
    pairs = list(zip(figures["a"], figures["b"], strict=True))
    for name in ("rate", "app_ms", "db_ms"):
        ratios = [b[name] / a[name] for a, b in pairs if a[name]]
        print(
            f"  B / A {name:7s} median {statistics.median(ratios):.2f}"
            f"  (rounds: {' '.join(f'{r:.2f}' for r in ratios)})"
        )
    return 0 if redeem.check_books(circuit) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
