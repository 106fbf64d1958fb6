"""gunicorn settings of the API: `gunicorn --config deploy/gunicorn.conf.py wsgi:app`.

The API only. `wsgi:app` never starts the scheduler (it runs as its own process,
`flask --app wsgi kapt scheduler`), so any number of workers and replicas is safe.
Command-line options (`--bind`, `--workers`) override these.
"""

import os

# Inside the container; outside it, pass `--bind 127.0.0.1:8000`.
bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never takes the API down.
max_requests = 2000
max_requests_jitter = 200
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
