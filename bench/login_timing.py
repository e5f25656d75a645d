"""How long the beneficiaries' login page takes for people who exist and people who do not.

Run with ``.venv/bin/python bench/login_timing.py`` (SQLite in /tmp by default). It creates a
beneficiary with an e-mail address and a printed access code (the default password hasher,
not the tests' fast one), then times in-process, through the whole middleware stack:

1. a wrong access code for the known fiscal code and for an unknown one;
2. a login-link request for the known e-mail and for an unknown one, with the mail queued
   for a worker (``CELERY_TASK_ALWAYS_EAGER=0``, as in production).

The rate-limit counters are cleared between requests, so every request does the full work.
It prints the median and the spread of each case and the ratio of the medians, and exits 1
when a known case is more than 1.5 times slower or faster than its unknown twin.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import fresh_database, stopwatch  # noqa: E402

TOLERANCE = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per case")
    parser.add_argument("--database-url", default="sqlite:////tmp/buonocomune_bench_login.db")
    args = parser.parse_args()
    fresh_database(
        args.database_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        MAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )

    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from tests import factories
    from vouchers.services.access import access_code_issue

    holder = factories.beneficiary(email="anna.bench@example.org")
    access_code_issue(beneficiary=holder)
    login = reverse("webapp:login")
    client = Client(HTTP_HOST="127.0.0.1")
    cases = {
        "access code, known fiscal code": {
            "code-fiscal_code": holder.fiscal_code,
            "code-access_code": "WRONG-CODE-0000",
        },
        "access code, unknown fiscal code": {
            "code-fiscal_code": "BNCLCU80A41H501V",
            "code-access_code": "WRONG-CODE-0000",
        },
        "login link, known e-mail": {"link-email": "anna.bench@example.org"},
        "login link, unknown e-mail": {"link-email": "nessuno.bench@example.org"},
    }
    client.post(login, cases["access code, unknown fiscal code"])  # warm up
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _round in range(args.requests):
        for name, form in cases.items():  # interleaved, so that the machine's load is shared
            cache.clear()
            with stopwatch() as elapsed:
                response = client.post(login, form)
            assert response.status_code == 200, (name, response.status_code)
            timings[name].append(elapsed())

    failed = False
    for known, unknown in (
        ("access code, known fiscal code", "access code, unknown fiscal code"),
        ("login link, known e-mail", "login link, unknown e-mail"),
    ):
        for name in (known, unknown):
            values = sorted(timings[name])
            print(
                f"{name:<34} median {statistics.median(values) * 1000:7.1f} ms"
                f"  min {values[0] * 1000:7.1f}  max {values[-1] * 1000:7.1f}"
            )
        ratio = statistics.median(timings[known]) / statistics.median(timings[unknown])
        ok = 1 / TOLERANCE <= ratio <= TOLERANCE
        failed |= not ok
        print(f"{'known / unknown':<34} {ratio:6.2f}  {'ok' if ok else 'FAILED'}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
