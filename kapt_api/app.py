"""The application factory: config, extensions, blueprints, error handlers, CLI."""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from kapt_api import config, errors, framing, logs, retries
from kapt_api.auth import audit
from kapt_api.db import begin_write
from kapt_api.extensions import api, db, limiter, migrate
from kapt_api.fields import register_openapi_fields
from kapt_api.openapi import OPENAPI_CONFIG, docs_assets, document_errors

JSON_METHODS = {"POST", "PUT", "PATCH"}
WRITE_METHODS = JSON_METHODS | {"DELETE"}


class KaptFlask(Flask):
    """Flask whose views run again when the database reports a collision (retries.py)."""

    def dispatch_request(self) -> ResponseReturnValue:
        return retries.run(self._attempt, start_over=audit.start_over)

    def _attempt(self) -> ResponseReturnValue:
        # SQLite (the embedded default) has one writer at a time, and a transaction that
        # read before writing fails at once if another connection wrote in between (the
        # busy wait does not apply): every attempt of a request that may write takes the
        # lock before its view reads. begin_write does nothing on PostgreSQL (row locks,
        # constraints and retries do that job).
        if request.method in WRITE_METHODS:
            begin_write(db.session)
        return super().dispatch_request()


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the API. Never starts the scheduler (see scheduler.py)."""
    app = KaptFlask(
        __name__, instance_path=str(config.INSTANCE_DIR), instance_relative_config=False
    )
    app.config.update(OPENAPI_CONFIG)
    app.config["API_SPEC_OPTIONS"] = _spec_options()
    app.config.update(config.load(overrides=overrides))
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logs.configure(
        app.config["KAPT_LOG_LEVEL"],
        logs.resolve_format(
            app.config["KAPT_LOG_FORMAT"], environment=app.config["KAPT_ENV"], stream=sys.stderr
        ),
    )
    if app.config["KAPT_TRUSTED_PROXIES"] > 0:
        hops = app.config["KAPT_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    _init_database(app)
    _retry_after_only_when_waiting(app)  # before the limiter, so it runs after it
    limiter.init_app(app)
    api.init_app(app)
    register_openapi_fields(api)
    _register_blueprints(app)
    document_errors(api)
    errors.register(app)
    logs.install(app)
    framing.install(app)
    _require_json_bodies(app)
    _register_cli(app)
    return app


def _spec_options() -> dict[str, Any]:
    """The OpenAPI document's options, its description listing the booking rules."""
    from kapt_api.scheduling.booking import rules

    options = copy.deepcopy(OPENAPI_CONFIG["API_SPEC_OPTIONS"])
    options["info"]["description"] += (
        "\n\n## Booking rules a refused request names\n\n"
        "A refused booking, move, cancellation or check-in answers problem+json whose "
        "`violations` name each rule broken, with a sentence saying why:\n\n"
        f"{rules.rules_text()}\n\n"
        "An administrator or prescriber may override a clinical rule (not a resource "
        'conflict) by sending `override: {rules: [codes], reason: "..."}`; the override '
        "is stored with the appointment and audited."
    )
    return options


def _init_database(app: Flask) -> None:
    from kapt_api import models  # noqa: F401 - every model registered before migrations look
    from kapt_api.db import configure_postgresql, configure_sqlite

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.PROJECT_DIR / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            configure_postgresql(db.engine)


def _register_blueprints(app: Flask) -> None:
    from kapt_api import health
    from kapt_api.auth import audit, tokens
    from kapt_api.auth.routes import bp as auth_bp
    from kapt_api.clinics.routes import bp as clinics_bp
    from kapt_api.monitoring.routes import bp as monitoring_bp
    from kapt_api.outcomes.routes import bp as outcomes_bp
    from kapt_api.patients.routes import bp as patients_bp
    from kapt_api.protocols.routes import bp as protocols_bp
    from kapt_api.reminders.routes import bp as reminders_bp
    from kapt_api.scheduling.days import cache
    from kapt_api.scheduling.links import routes as links
    from kapt_api.scheduling.routes import calendar, courses_and_appointments

    tokens.install(app)
    audit.install(app)
    cache.configure(app.config["KAPT_SCHEDULE_CACHE_DAYS"])
    for blueprint in (
        health.bp,
        auth_bp,
        clinics_bp,
        patients_bp,
        protocols_bp,
        courses_and_appointments,
        calendar,
        links.bp,
        reminders_bp,
        monitoring_bp,
        outcomes_bp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_assets)
    app.register_blueprint(links.pages)


def _retry_after_only_when_waiting(app: Flask) -> None:
    """Flask-Limiter puts Retry-After on every answer of a limited endpoint; the header
    tells a client to wait (RFC 9110), so only 429 and 503 answers keep it."""

    @app.after_request
    def _strip_retry_after(response: Response) -> Response:
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        return response


def _require_json_bodies(app: Flask) -> None:
    @app.before_request
    def _json_only() -> None:
        has_body = (
            bool(request.content_length)
            or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        )
        if request.method in JSON_METHODS and has_body and not request.is_json:
            raise UnsupportedMediaType("Send the body as application/json.")


def _register_cli(app: Flask) -> None:
    from kapt_api.cli import kapt

    app.cli.add_command(kapt)
