"""A gunicorn worker for the tills' servers: gthread's event loop, one request at a time.

``gthread`` with one thread keeps connections alive (the tills post a sale every few
seconds over the same connection) but hands every request from its event loop to its one
pool thread and back: a queue, a future, a pipe and two thread switches per request, which
cost about a tenth of a redemption's CPU on a small server. This worker is the same loop and
the same request handling, with the request served in the loop's own thread.

It keeps from gthread: keep-alive, the keep-alive timeout, the limit of connections, and a
new connection waiting on the loop (not in a thread) until its first bytes arrive. What a
gthread worker with one thread does while its thread serves a request, accepting more
connections, this one does right after: they wait in the listen backlog meanwhile.

Use it with ``--worker-class core.gunicorn_worker.LoopWorker`` (``GUNICORN_WORKER_CLASS`` in
``gunicorn.conf.py``); ``--threads`` does not apply.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker


class _Finished:
    """What ``ThreadWorker.finish_request`` expects of a future, for a result at hand."""

    __slots__ = ("_result",)

    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self) -> Any:
        return self._result

    def cancelled(self) -> bool:
        return False


class _NoPool:
    def shutdown(self, wait: bool = True, **kwargs: Any) -> None:
        pass


# The arbiter restarts a worker that has not signalled for ``timeout`` seconds (30 by
# default); gthread signals (a file's time stamp) at every turn of its loop, a system call per
# request at the tills' pace. Once a second is enough.
NOTIFY_EVERY = 1.0


class LoopWorker(ThreadWorker):
    _notified = float("-inf")

    def get_thread_pool(self) -> _NoPool:
        return _NoPool()

    def notify(self) -> None:
        now = time.monotonic()
        if now - self._notified >= NOTIFY_EVERY:
            self._notified = now
            super().notify()

    def accept(self, listener: socket.socket) -> None:
        """A new connection waits on the loop for its first request (gthread: in a thread)."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self.finish_request(conn, _Finished(_DEFER))

    def enqueue_req(self, conn: Any) -> None:
        """Serve the request now, then put the connection back on the loop or close it."""
        self.finish_request(conn, _Finished(self.handle(conn)))
