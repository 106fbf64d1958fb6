"""The API, for bench_http.py, plus two bench-only routes that answer fixed bytes from
memory (the bytes of a day schedule, read once from KAPT_BENCH_BODY). Never part of the
production app: gunicorn loads this module only in the benchmark.

- GET /api/v1/bench/memory goes through everything the API does for a request under
  /api/ (request id, JSON log line, access token verified against the database, audit
  hook), then answers the bytes: the same server answering from memory.
- GET /bench/memory skips the access token (outside /api/): the bare framework.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Response

from kapt_api import create_app

app = create_app()
_body: list[bytes] = []


def _bytes() -> Response:
    if not _body:
        _body.append(Path(os.environ["KAPT_BENCH_BODY"]).read_bytes())
    return Response(_body[0], mimetype="application/json")


app.add_url_rule("/api/v1/bench/memory", "bench_memory", _bytes)
app.add_url_rule("/bench/memory", "bench_memory_bare", _bytes)
