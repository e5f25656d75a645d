"""What the bench scripts share: a throw-away database, Django set up on it, a stopwatch."""

import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def recreate_database(database_url: str) -> None:
    """Drop and create the bench database (PostgreSQL), or delete the SQLite file."""
    parts = urlsplit(database_url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path[1:] if parts.path.startswith("//") else parts.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum() or "bench" not in name:
        # The database is dropped: refuse anything that does not look like a bench one.
        raise SystemExit(f"refusing to drop {name!r}: a bench database has 'bench' in its name")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure_django(database_url: str, **extra_env: str) -> dict[str, str]:
    """Point Django at the bench database with production-like settings, and set it up."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "BUONOCOMUNE_ENV": "development",
        "DEBUG": "0",  # with DEBUG on, Django keeps every query in memory
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        **extra_env,
    }
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    os.environ.update(env)
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    return env


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def fresh_database(database_url: str, **extra_env: str) -> dict[str, str]:
    """Recreate the database, set Django up on it and migrate; return the environment."""
    recreate_database(database_url)
    env = configure_django(database_url, **extra_env)
    migrate()
    return env


@contextmanager
def stopwatch():
    """Measure the wall time of a block: ``with stopwatch() as elapsed: …; elapsed()``."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def _postgres_backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, if it runs here."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the server runs on another machine, or /proc is not readable
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_used():
    """Measure the CPU time of this process and of its PostgreSQL backend over a block.

    On a shared machine wall time depends on the neighbours; CPU time much less so.
    ``with cpu_used() as cpu: …; cpu()`` returns ``(python, postgres or None)``.
    """
    python_start, postgres_start = time.process_time(), _postgres_backend_cpu()
    end: list[tuple] = []

    def used() -> tuple[float, float | None]:
        if end:
            return end[0]
        postgres = _postgres_backend_cpu()
        return (
            time.process_time() - python_start,
            None if postgres is None or postgres_start is None else postgres - postgres_start,
        )

    yield used
    end.append(used())
