"""What gunicorn refuses before Flask sees the request (a request line too long, headers
too many or too large, a request line that is not HTTP) is problem+json like every other
error, and a chunked body over the size limit is a 413: a real gunicorn with
deploy/gunicorn.conf.py, spoken to through raw sockets, on the engine under test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import engine_name
from tests.ops.databases import fresh_postgres_database
from tests.ops.test_processes import PYTHON, free_ports, run, serve, stop_all

pytestmark = pytest.mark.slow

BODY_LIMIT = 1024  # small, so the refused body fits in one read of gunicorn's
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json", self
        body = json.loads(self.body)
        assert set(body) >= PROBLEM_KEYS, body
        assert body["status"] == self.status
        return body


@contextmanager
def database(logs: Path) -> Iterator[str]:
    if engine_name() == "postgresql":
        with fresh_postgres_database("kapt_gunicorn") as url:
            yield url
    else:
        yield f"sqlite:///{logs / 'kapt.db'}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    logs = tmp_path_factory.mktemp("gunicorn-errors")
    running: list[subprocess.Popen[bytes]] = []
    with database(logs) as url:
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_"))},
            "KAPT_ENV": "production",
            "KAPT_SECRET_KEY": os.urandom(32).hex(),
            "KAPT_DATABASE_URL": url,
            "KAPT_MAX_CONTENT_LENGTH": str(BODY_LIMIT),
        }
        run(logs, "migrate", [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"], environ)
        [port] = free_ports(1)
        command = [PYTHON, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
        command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"]
        try:
            serve(running, logs, "gunicorn", command, environ, port)
            yield port
        finally:
            stop_all(running)


def exchange(port: int, raw: bytes) -> Answer:
    """Send raw bytes, read the answer to the end (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def request(target: str = "/healthz", *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(size: int) -> bytes:
    """A login body of about `size` bytes, sent in chunks of 256."""
    body = json.dumps({"email": "nobody@clinic.test", "password": "x" * size}).encode()
    framed = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 256]), body[i : i + 256])
        for i in range(0, len(body), 256)
    )
    head = request(
        "/api/v1/auth/tokens",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        method="POST",
    )
    return head + framed + b"0\r\n\r\n"


def test_gunicorn_answers_healthz_through_the_same_config(server):
    answer = exchange(server, request())

    assert answer.status == 200
    assert json.loads(answer.body) == {"status": "ok"}


def test_a_request_line_over_the_limit_is_a_414_problem(server):
    answer = exchange(server, request("/healthz?q=" + "a" * 5000))

    body = answer.problem()
    assert answer.status == 414
    assert body["code"] == "uri_too_long"
    assert "aaaa" not in answer.body.decode()


@pytest.mark.parametrize(
    "headers",
    [[f"X-Extra-{n}: {n}" for n in range(120)], ["X-Large: " + "b" * 9000]],
    ids=["too-many", "too-large"],
)
def test_headers_over_the_limits_are_a_431_problem(server, headers):
    answer = exchange(server, request("/healthz", *headers))

    assert answer.status == 431
    assert answer.problem()["code"] == "headers_too_large"


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT AN HTTP REQUEST\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /healthz?patient=Quill HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    ],
    ids=["garbage-line", "http-version", "header-name"],
)
def test_a_malformed_request_is_a_400_problem_that_quotes_nothing_of_it(server, raw):
    answer = exchange(server, raw)

    body = answer.problem()
    assert answer.status == 400
    assert body["code"] == "malformed_request"
    assert b"Quill" not in answer.body


def test_a_malformed_chunk_is_a_400_problem_from_the_application(server):
    head = request("/api/v1/auth/tokens", "Transfer-Encoding: chunked", method="POST")

    answer = exchange(server, head + b"zz\r\n{}\r\n0\r\n\r\n")

    assert answer.status == 400
    assert answer.problem()["code"] == "malformed_body"


def test_a_chunked_body_over_the_size_limit_is_a_413_problem(server):
    answer = exchange(server, chunked(2 * BODY_LIMIT))

    assert answer.status == 413
    assert answer.problem()["code"] == "body_too_large"


def test_a_chunked_body_within_the_limit_is_read_whole(server):
    answer = exchange(server, chunked(BODY_LIMIT // 4))

    assert answer.status == 401  # the login was read, and refused as a login
    assert answer.problem()["code"] == "bad_credentials"
