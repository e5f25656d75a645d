"""Bulk issuing through a real Celery worker on Redis, as in production."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kombu.pools
import pytest
from django.db import connection

from config.celery import app as celery_app
from tests.vouchers.test_programme import run_to_ranking
from vouchers.models import IssuanceRun, Voucher
from vouchers.services import issuing
from vouchers.services.issuing import issuance_run_start

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a worker process shares the test database only on PostgreSQL "
        "(CI runs the suite on PostgreSQL too)",
    ),
]


def forget_broker_connections() -> None:
    """Drop pooled connections, so that a change of broker_url takes effect in this process.

    kombu keeps its pools in global groups keyed by broker: emptied too, or the next test on
    the same broker would be handed the pool closed here.
    """
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


@pytest.fixture
def worker():
    """Start a worker on its own queue, pointed at the test database; route tasks to it."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    saved = {
        k: celery_app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")
    }
    celery_app.conf.update(task_always_eager=False, broker_url=REDIS_URL, task_default_queue=queue)
    forget_broker_connections()
    try:
        yield process
    finally:
        celery_app.conf.update(saved)
        forget_broker_connections()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_bulk_issuing_runs_on_a_real_worker_and_reports_progress(worker, monkeypatch):
    def not_here(**_kwargs):
        raise AssertionError("the issuing ran in the test process, not on the worker")

    monkeypatch.setattr(issuing, "issuance_run_execute", not_here)
    initiative, _applications = run_to_ranking(3)
    run = issuance_run_start(initiative=initiative)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (IssuanceRun.Status.DONE, IssuanceRun.Status.FAILED):
            break
        if worker.poll() is not None:
            pytest.fail("the worker stopped: " + worker.stdout.read().decode(errors="replace"))
        time.sleep(0.2)
    assert (run.status, run.done, run.total, run.vouchers_issued) == ("done", 3, 3, 3)
    assert Voucher.objects.filter(initiative=initiative).count() == 3


@pytest.fixture
def shared_media(tmp_path, monkeypatch, settings):
    """One media folder for this process and the worker, as app servers and workers share."""
    media = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    settings.MEDIA_ROOT = media
    return media


def test_a_calls_archive_is_prepared_on_a_real_worker(shared_media, worker, monkeypatch):
    import hashlib

    from reports.archive import exports as archive_exports
    from vouchers.models import ArchiveExport

    def not_here(**_kwargs):
        raise AssertionError("the archive was written in the test process, not on the worker")

    monkeypatch.setattr(archive_exports, "initiative_archive_zip", not_here)
    initiative, _applications = run_to_ranking(3)
    export = archive_exports.archive_export_request(initiative=initiative, by=None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status in (ArchiveExport.Status.DONE, ArchiveExport.Status.FAILED):
            break
        if worker.poll() is not None:
            pytest.fail("the worker stopped: " + worker.stdout.read().decode(errors="replace"))
        time.sleep(0.2)
    assert export.status == ArchiveExport.Status.DONE, export.error
    stored = shared_media / export.file.name
    assert stored.parent.parent == shared_media / "archives"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == export.sha256
