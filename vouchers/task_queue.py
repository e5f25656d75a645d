"""Handing work to the task queue by the task's registered name.

The services schedule tasks (after commit) and the tasks call the services: importing
``vouchers.tasks`` from a service would make the two a cycle. The tasks are the thin edge
above the services, so a service names the task instead, through ``task_enqueue``, and Celery
finds it in its registry (autodiscovered from ``vouchers.tasks``). The names a service may
enqueue are the constants below; a test checks that each one is a registered task.
"""

from typing import Any

from celery import current_app
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

# What a broker that is down or unreachable raises from ``delay()``.
BROKER_UNAVAILABLE = (OperationalError, RedisError, OSError)

ISSUANCE_RUN_EXECUTE = "vouchers.tasks.issuance_run_execute"
NOTIFICATIONS_SEND = "vouchers.tasks.notifications_send"
LOGIN_LINK_SEND = "vouchers.tasks.login_link_send"

ENQUEUED_TASKS = frozenset({ISSUANCE_RUN_EXECUTE, NOTIFICATIONS_SEND, LOGIN_LINK_SEND})


def task_enqueue(name: str, *args: Any, **kwargs: Any) -> Any:
    """Queue the registered task ``name`` (run inline when tasks are eager, as in tests).

    Through the task's own ``delay``, so a task run inline and a patched ``delay`` behave as
    when the caller imported the task.
    """
    if name not in ENQUEUED_TASKS:
        raise LookupError(f"{name} is not a task the services enqueue")
    return current_app.tasks[name].delay(*args, **kwargs)
