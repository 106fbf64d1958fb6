"""The demo clinic that `make run` loads into an empty database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from kapt_api.auth.models import User
from kapt_api.db import db


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]


def database_has_users() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(User)))


def load() -> list[DemoLogin]:
    """Create the demo clinic; returns the logins to print."""
    raise NotImplementedError("demo clinic is written with the clinics and patients domains")
