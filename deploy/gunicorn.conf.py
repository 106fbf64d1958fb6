"""gunicorn settings of the API: `gunicorn --config deploy/gunicorn.conf.py wsgi:app`.

The API only. `wsgi:app` never starts the scheduler (it runs as its own process,
`flask --app wsgi kapt scheduler`), so any number of workers and replicas is safe.
Command-line options (`--bind`, `--workers`) override these.
"""

import json
import os

from gunicorn import util

# Inside the container; outside it, pass `--bind 127.0.0.1:8000`.
bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never takes the API down.
max_requests = 2000
max_requests_jitter = 200
# The master imports the application once and forks each worker from it. Without it,
# every worker max_requests retires imports the whole application again: 3.6 s of CPU
# on a 2-core machine, every 2,000 requests of each worker, as much again as about 600
# day schedules. Workers also share the imported code's pages until they write to
# them. New code therefore needs a restart of the master (or USR2), not a HUP
# (docs/processes.md). Each worker drops the master's database pool (post_fork).
preload_app = True
# Worker heartbeat files on tmpfs: a container's disk can stall them into false timeouts.
# gunicorn opens them with mkstemp and unlinks them at once.
SHARED_MEMORY = "/dev/shm"  # noqa: S108
if os.path.isdir(SHARED_MEMORY):
    worker_tmp_dir = SHARED_MEMORY
# No control socket (gunicorn 25+): it would let any process of the same user resize
# or stop the server, and every instance of a user shares its default path.
control_socket_disable = True
# No gunicorn access log: it prints full URLs, query strings included (patient
# searches). The application logs each request itself, by route template.
accesslog = None

# What gunicorn refuses itself, before the application sees the request: its defaults,
# written out so that the answers below can name them. The longest request the API
# takes (a query of a few ids and times, a bearer token) is far below each.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# gunicorn answers those refusals (400, 414, 431) in HTML from its worker's handle_error
# through util.write_error; every worker writes them as problem+json instead, whichever
# worker class runs. gunicorn's own message is not repeated: it quotes the request line,
# query string included (patient searches).
PROBLEMS = {
    400: ("malformed_request", "The request line, a header or the chunked body is malformed."),
    414: (
        "uri_too_long",
        f"The request line is longer than {limit_request_line} bytes: shorten the query.",
    ),
    431: (
        "headers_too_large",
        f"Send at most {limit_request_fields} headers of at most "
        f"{limit_request_field_size} bytes each.",
    ),
}


def write_problem(sock, status_int, reason, mesg):
    """gunicorn's util.write_error, answering RFC 9457 problem+json like the application."""
    code, detail = PROBLEMS.get(status_int, (reason.lower().replace(" ", "_"), reason + "."))
    body = json.dumps(
        {
            "type": f"urn:kapt:problem:{code}",
            "title": reason,
            "status": status_int,
            "detail": detail,
            "code": code,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_fork(server, worker):
    """A forked worker starts with an empty database pool: a connection the master may
    have opened must never be shared by two processes. Disposed without closing, so the
    master's own connection (if any) stays usable by the master, as SQLAlchemy asks for
    pools across os.fork()."""
    from kapt_api.db import db

    application = server.app.wsgi()
    with application.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def post_worker_init(worker):
    util.write_error = write_problem
