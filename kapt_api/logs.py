"""Structured logs with a request id. Never a patient's name, email or phone:
the access line carries the route template, not the URL or its query string.

One JSON object per line in production, in containers and wherever
KAPT_LOG_FORMAT=json; short human-readable lines (structlog's console renderer)
for a developer at a terminal. The same events and fields either way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import structlog
from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_RENDERED = "kapt_rendered"
_EVENT = "kapt_event"
# APScheduler says "Running job ..." and "executed successfully" at INFO on every tick.
CHATTY_LOGGERS = ("apscheduler",)
_CONTAINER_MARKS = ("/.dockerenv", "/run/.containerenv")
access_log = structlog.get_logger("kapt.access")


def _exception_frames(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """`log.exception(...)` keeps the frames and the type, never the message: an
    exception's message may quote a patient's data."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    error = exc_info if isinstance(exc_info, BaseException) else None
    if isinstance(exc_info, tuple):
        error = exc_info[1]
    if error is not None:
        event.update(_describe(error))
    return event


def _describe(error: BaseException) -> dict[str, str]:
    return {
        "error_type": type(error).__name__,
        "frames": "".join(traceback.format_tb(error.__traceback__)),
    }


def _to_stdlib(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> tuple[tuple[str], dict[str, Any]]:
    """structlog's last step: the JSON line, marked so the formatter passes it through,
    and the event itself for the console formatter."""
    line = json.dumps(event, default=str)
    return (line,), {"extra": {_RENDERED: True, _EVENT: dict(event)}}


def _stdlib_event(record: logging.LogRecord) -> dict[str, Any]:
    """Another library's record as one of our events (its exception as frames and type)."""
    event: dict[str, Any] = {
        "event": record.getMessage(),
        "logger": record.name,
        "level": record.levelname.lower(),
        "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
        **structlog.contextvars.get_contextvars(),
    }
    if record.exc_info and record.exc_info[1] is not None:
        event.update(_describe(record.exc_info[1]))
    return event


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line for every record, including other libraries' own.

    Their exceptions are logged as frames and type only, as ours are: an
    exception's message may quote a patient's data.
    """

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _RENDERED, False):
            return record.getMessage()
        return json.dumps(_stdlib_event(record), default=str)


class ConsoleLineFormatter(logging.Formatter):
    """A short line per record for a person at a terminal: time, level, event, logger,
    then the fields; an exception's frames (never its message) on the lines below."""

    def __init__(self, *, colors: bool) -> None:
        super().__init__()
        self._render = structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False)

    def format(self, record: logging.LogRecord) -> str:
        event = dict(getattr(record, _EVENT, None) or _stdlib_event(record))
        timestamp = str(event.get("timestamp", ""))
        # 2026-12-02T15:53:43.977874Z -> 15:53:43Z: the date is today's on a console.
        event["timestamp"] = timestamp[11:19] + "Z" if len(timestamp) >= 19 else timestamp
        frames = event.pop("frames", None)
        if frames:
            event["exception"] = str(frames).rstrip("\n")
        return str(self._render(None, record.levelname.lower(), event))


class _QuietChatter(logging.Filter):
    """APScheduler's per-tick INFO lines count as DEBUG: shown only at KAPT_LOG_LEVEL=DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.startswith(CHATTY_LOGGERS):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def in_container() -> bool:
    # systemd-nspawn and podman set `container` (lower case, by their convention).
    marked = bool(os.environ.get("container"))  # noqa: SIM112
    return marked or any(map(os.path.exists, _CONTAINER_MARKS))


def resolve_format(requested: str, *, environment: str, stream: Any) -> str:
    """`auto` is the console only for development at a terminal outside a container;
    everywhere else (production, containers, pipes, files) one JSON object per line."""
    if requested != "auto":
        return requested
    at_terminal = bool(getattr(stream, "isatty", lambda: False)())
    if environment == "development" and at_terminal and not in_container():
        return "console"
    return "json"


def configure(level: str = "INFO", fmt: str = "json") -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exception_frames,
            _to_stdlib,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # Through the standard library, so gunicorn, APScheduler and pytest's caplog see one stream.
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_kapt", False)]
    if not ours:
        stream = logging.StreamHandler(sys.stderr)
        stream._kapt = True  # type: ignore[attr-defined]
        root.addHandler(stream)
        ours = [stream]
    for handler in ours:
        colors = bool(getattr(getattr(handler, "stream", None), "isatty", lambda: False)())
        handler.setFormatter(
            ConsoleLineFormatter(colors=colors) if fmt == "console" else JsonLineFormatter()
        )
        if not any(isinstance(f, _QuietChatter) for f in handler.filters):
            handler.addFilter(_QuietChatter())
    root.setLevel(level.upper())
    # werkzeug's own access line prints the full URL, query string included.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Alembic lists each plugin it registers when imported, which is now after this
    # (extensions.Migrations): a line each, on every `flask db`, that says nothing.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def request_id_from(incoming: str | None) -> str:
    """The client's X-Request-ID when it is safe to echo and log, else a new one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def install(app: Flask) -> None:
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get("X-Request-ID"))
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    # First of all before-request steps: a refusal by any later one (401, 415, 429)
    # still carries this request's id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = g.get("request_started")
        user = g.get("_kapt_user")
        access_log.info(
            "request",
            method=request.method,
            route=request.url_rule.rule if request.url_rule else "<unmatched>",
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
            user_id=str(user.id) if user is not None else None,
        )
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        # The thread serves another request next; nothing of this one may leak into its logs.
        structlog.contextvars.clear_contextvars()
