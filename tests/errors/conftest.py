"""What every problem+json answer carries."""

from __future__ import annotations

from kapt_api.errors import PROBLEM_MIMETYPE


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
