"""A fresh, empty PostgreSQL database for tests that need their own (migrations,
real processes), or a skip that says why when the server cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty database on the test server, yield its URL, drop it after."""
    try:
        url = create_postgres_database(prefix)
    except sa.exc.OperationalError as exc:
        server = sa.make_url(postgres_server_url()).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        pytest.skip(f"PostgreSQL unreachable at {server} (KAPT_TEST_POSTGRES_URL): {reason}")
    try:
        yield url
    finally:
        drop_postgres_database(url)
