"""A second application for a test that needs other settings (a bad database URL,
a route that only a test has).

The extensions are module-level singletons: create_app() binds them to the new
app, which would leave the suite's own app serving this one's OpenAPI document
and rate-limit storage. The context manager puts them back afterwards.

The app's context stays pushed while it is in use, as the suite's own app's is:
its requests then share it, and the end of a request does not close the test's
database session (Flask-SQLAlchemy removes the session when an app context ends).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from kapt_api import create_app
from kapt_api.extensions import api, limiter


def _snapshot(obj: object) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(obj).items()}


@contextmanager
def kept_extensions() -> Iterator[None]:
    """Whatever apps are built inside, the shared extensions end as they began."""
    saved = {obj: _snapshot(obj) for obj in (api, limiter)}
    try:
        yield
    finally:
        for obj, state in saved.items():
            vars(obj).clear()
            vars(obj).update(state)


@contextmanager
def separate_app(overrides: dict[str, Any]) -> Iterator[Flask]:
    """Build an app from `overrides`, restoring the shared extensions on exit."""
    with kept_extensions():
        application = create_app(overrides)
        with application.app_context():
            yield application
