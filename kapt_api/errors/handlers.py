"""The error handlers the app installs: every exception a request can raise ends as
problem+json, its transaction rolled back, and nothing a patient wrote is logged or
echoed."""

from __future__ import annotations

import traceback
from pathlib import Path

import structlog
from flask import Flask, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from kapt_api.errors.domain import DatabaseBusy, DomainError
from kapt_api.errors.problems import problem, render_domain_error, render_http_exception
from kapt_api.errors.rules import unregistered

JSON_DECODER_FILE = str(Path("json", "decoder.py"))
log = structlog.get_logger("kapt.errors")


def _rollback() -> None:
    from kapt_api.db import db

    db.session.rollback()


def register(app: Flask) -> None:
    """Install the handlers; flask-smorest's HTTPException handler is KaptApi's."""
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(IntegrityError, _integrity)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(RecursionError, _too_deep)
    app.register_error_handler(Exception, _unexpected)


def _domain(exc: DomainError) -> Response:
    _rollback()
    _check_rule_codes(exc)
    return render_domain_error(exc)


def _check_rule_codes(exc: DomainError) -> None:
    """A code outside the document's enum breaks every generated client that meets it;
    the refusal is still answered (never a 500 for it), and the code logged."""
    if unknown := unregistered(v.rule for v in exc.violations):
        log.warning("unregistered_rule", rules=unknown, code=exc.code)


def _integrity(exc: IntegrityError) -> Response:
    # A constraint caught what a service did not check first. Never echo the
    # database message: it can carry the values (PHI) that collided.
    _rollback()
    log.warning("integrity_error", sqlstate=getattr(exc.orig, "sqlstate", None))
    return problem(
        409,
        title="Conflicts with existing data",
        type_="urn:kapt:problem:conflict",
        detail="The change conflicts with data already stored.",
    )


def _database_down(exc: OperationalError) -> Response:
    from kapt_api.db import is_transient

    _rollback()
    if is_transient(exc):
        # A collision outside the part of the request that is retried (retries.py).
        log.warning("database_busy", attempts=1, error_type=type(exc.orig).__name__)
        return render_domain_error(DatabaseBusy())
    log.error("database_unavailable", error_type=type(exc.orig).__name__)
    return problem(
        503,
        detail="The database is not reachable; try again shortly.",
        type_="urn:kapt:problem:database_unavailable",
        headers={"Retry-After": "5"},
        code="database_unavailable",
    )


def _too_deep(exc: RecursionError) -> Response:
    if _raised_by_json_decoder(exc):
        return problem(
            400,
            title="Malformed request body",
            detail="The body is nested too deeply.",
        )
    return _unexpected(exc)


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return render_http_exception(exc)
    _rollback()
    # Frames only: an exception's message may quote a patient's data.
    log.error(
        "unhandled_error",
        error_type=type(exc).__name__,
        frames="".join(traceback.format_tb(exc.__traceback__)),
    )
    return problem(500, detail="An unexpected error occurred; it has been logged.")


def _raised_by_json_decoder(exc: BaseException) -> bool:
    """A JSON body nested thousands deep makes the standard decoder recurse too far."""
    return any(
        frame.f_code.co_filename.endswith(JSON_DECODER_FILE)
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )
