"""Extensions created here, bound to the app in app.py."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy

from kapt_api.db import db
from kapt_api.openapi import KaptApi


class Migrations:
    """Flask-Migrate, imported where migrations run (`flask db ...`, and `upgrade()` in
    the demo reset, the seed and the tests), never in an API worker: Alembic and Mako
    cost each worker about 11 MB that no request uses (docs/benchmarks.md, worker
    memory). Flask-Migrate itself is set up the first time either is used."""

    def init_app(self, app: Flask, db: SQLAlchemy, *, directory: str) -> None:
        app.extensions["migrate"] = _MigrateOnFirstUse(app, db, directory)
        app.cli.add_command(_MigrationCommands())


class _MigrateOnFirstUse:
    """Stands in app.extensions["migrate"] until Flask-Migrate reads it."""

    def __init__(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        self._app, self._db, self._directory = app, db, directory

    def __getattr__(self, name: str) -> Any:
        from flask_migrate import Migrate

        # Migrate.init_app replaces this stand-in (and the `db` command) with its own.
        Migrate(self._app, self._db, directory=self._directory)
        return getattr(self._app.extensions["migrate"], name)


class _MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's own command group, imported when it runs."""

    def __init__(self) -> None:
        super().__init__("db", help="Perform database migrations.")

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        from flask_migrate.cli import db as commands

        return commands.make_context(info_name, args, parent=parent, **extra)


migrate = Migrations()
api = KaptApi()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)

__all__ = ["api", "db", "jwt", "limiter", "migrate"]
