"""The services enqueue tasks by name: each name is a task registered once the apps are ready."""

import pytest

from config.celery import app as celery_app
from vouchers.task_queue import ENQUEUED_TASKS, task_enqueue


def test_every_task_the_services_enqueue_is_registered():
    assert ENQUEUED_TASKS <= set(celery_app.tasks)


def test_a_name_the_services_do_not_enqueue_is_refused():
    with pytest.raises(LookupError):
        task_enqueue("vouchers.tasks.no_such_task")
