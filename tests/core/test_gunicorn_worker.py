"""The tills' gunicorn worker (core.gunicorn_worker.LoopWorker) in a real gunicorn."""

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "tests.core.hello_wsgi:application",
            "--worker-class",
            "core.gunicorn_worker.LoopWorker",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
            "--config",
            "/dev/null",
        ],
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=30)


def test_a_connection_stays_alive_for_the_next_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    answers = []
    for n in range(3):
        conn.request("POST", f"/sale/{n}", body=f"body {n}")
        response = conn.getresponse()
        assert response.status == 200
        answers.append(response.read().decode())
        assert response.getheader("Connection", "").lower() != "close"
    sock = conn.sock
    assert [a.split()[1] for a in answers] == ["/sale/0", "/sale/1", "/sale/2"]
    assert [a.split(" ", 3)[3] for a in answers] == ["body 0", "body 1", "body 2"]
    assert conn.sock is sock  # one connection for the three
    conn.close()


def test_a_silent_connection_does_not_hold_up_the_others(server):
    silent = socket.create_connection(("127.0.0.1", server), timeout=5)
    try:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
        conn.request("GET", "/after-the-silent-one")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read().startswith(b"GET /after-the-silent-one")
        assert time.monotonic() - started < 2
        conn.close()
    finally:
        silent.close()


def test_pipelined_requests_are_each_answered(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(
            b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        )
        received = b""
        deadline = time.monotonic() + 5
        while received.count(b"HTTP/1.1 200") < 2 or not received.endswith(b"abc"):
            assert time.monotonic() < deadline, received
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
    assert b"GET /one" in received
    assert b"POST /two" in received


def test_a_client_that_hangs_up_is_forgotten(server):
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", server), timeout=5)
        sock.sendall(b"GET /half")  # an incomplete request, then gone
        sock.close()
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    conn.request("GET", "/still-serving")
    assert conn.getresponse().status == 200
    conn.close()
