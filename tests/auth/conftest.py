"""Logging in over HTTP, as a front end does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kapt_api.db import db
from tests.conftest import PASSWORD

LOGIN = "/api/v1/auth/tokens"
REFRESH = "/api/v1/auth/tokens/refresh"
CURRENT = "/api/v1/auth/tokens/current"
ME = "/api/v1/auth/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., TestResponse]:
    """POST /auth/tokens; `address` sets the client's IP address."""

    def post(email: str, password: str = PASSWORD, address: str = "127.0.0.1") -> TestResponse:
        # What the factories made is committed first, as a real server would only see
        # committed rows; a refused login rolls its own transaction back.
        db.session.commit()
        return client.post(
            LOGIN,
            json={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )

    return post
