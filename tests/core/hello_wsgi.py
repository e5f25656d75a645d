"""A WSGI application for the gunicorn worker's tests: it echoes the method, path and body."""

import os


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    answer = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {os.getpid()} ".encode() + body
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
