"""Every error a client can cause is RFC 9457 problem+json with a request id, never a 500:
malformed requests and failed preconditions."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import row_counts
from tests.errors.conftest import assert_problem

LOGIN = "/api/v1/auth/tokens"


# --- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"email": "a@b.co",}', b'{"email": "\xff\xfe"}', b"[" * 100_000],
    ids=["broken", "trailing-comma", "not-utf8", "nested-too-deep"],
)
def test_a_body_that_is_not_json_gets_400(client, raw):
    response = client.post(LOGIN, data=raw, content_type="application/json")

    body = assert_problem(response, 400)
    assert body["title"] == "Malformed request body"


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/nowhere", "/api/v2/auth/tokens"])
def test_an_unknown_route_gets_404(client, path):
    assert_problem(client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/healthz", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", LOGIN, {"POST", "OPTIONS"}),
        ("GET", "/api/v1/auth/tokens/current", {"DELETE", "OPTIONS"}),
    ],
)
def test_a_wrong_method_gets_405_with_an_allow_header(client, method, path, allowed):
    response = client.open(path, method=method)

    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_a_body_over_the_size_limit_gets_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64)
    body = json.dumps({"email": "a@b.co", "password": "x" * 100})

    assert_problem(client.post(LOGIN, data=body, content_type="application/json"), 413)


def test_the_default_size_limit_refuses_a_megabyte(client):
    body = json.dumps({"email": "a@b.co", "password": "x" * 1_000_000})

    assert_problem(client.post(LOGIN, data=body, content_type="application/json"), 413)


def _chunked_login(client, size: int, **environ):
    body = json.dumps({"email": "a@b.co", "password": "x" * size}).encode()
    return client.post(
        LOGIN,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides=environ,
    )


def test_a_chunked_body_over_the_size_limit_gets_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64)
    before = row_counts()

    # As gunicorn and Flask's own server say of a chunked body they end themselves.
    response = _chunked_login(client, 100, **{"wsgi.input_terminated": True})

    assert assert_problem(response, 413)["code"] == "body_too_large"
    assert row_counts() == before


def test_a_chunked_body_within_the_limit_is_read_whole(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64)

    response = _chunked_login(client, 10, **{"wsgi.input_terminated": True})

    assert assert_problem(response, 401)["code"] == "bad_credentials"


def test_a_chunked_body_the_server_does_not_end_gets_411_not_an_empty_read(client):
    response = _chunked_login(client, 10)

    assert assert_problem(response, 411)["code"] == "length_required"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_that_is_not_json_by_content_type_gets_415(client, content_type):
    response = client.post(LOGIN, data="email=a@b.co&password=x", content_type=content_type)

    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]


def test_invalid_fields_get_422_naming_each_field(client):
    response = client.post(LOGIN, json={"email": "nope", "password": "", "extra": 1})

    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"email", "password", "extra"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())
    assert body["detail"] == "Check these fields: email, extra, password."


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
def test_json_that_is_not_an_object_gets_422(client, raw):
    response = client.post(LOGIN, data=raw, content_type="application/json")

    assert "body" in assert_problem(response, 422)["errors"]


def test_a_naive_datetime_in_a_query_gets_422(client, admin_headers):
    response = client.get(
        "/api/v1/audit-events", headers=admin_headers, query_string={"from": "2026-05-01T09:00:00"}
    )

    body = assert_problem(response, 422)
    assert body["errors"] == {
        "from": ["Give the time with its offset, e.g. 2026-12-01T09:30:00-05:00."]
    }


# --- preconditions ----------------------------------------------------------------------


@pytest.fixture
def clinic_url(make_clinic):
    return f"/api/v1/clinics/{make_clinic().id}"


def _rename(client, url, headers, if_match=None):
    extra = {} if if_match is None else {"If-Match": if_match}
    return client.patch(url, json={"name": "Renamed"}, headers={**headers, **extra})


def test_a_change_without_if_match_is_428_with_a_code(client, admin_headers, clinic_url):
    body = assert_problem(_rename(client, clinic_url, admin_headers), 428)

    assert body["code"] == "if_match_required"
    assert "If-Match" in body["detail"]


def test_a_change_on_a_stale_etag_is_412_with_a_code(client, admin_headers, clinic_url):
    body = assert_problem(_rename(client, clinic_url, admin_headers, '"stale"'), 412)

    assert body["code"] == "etag_mismatch"
    assert "ETag" in body["detail"]


@pytest.mark.parametrize(
    "value",
    ["stale", '"unterminated', '"a" junk', 'w/"weak"', '"a",,"b"', '"a" "b"', '*, "a"'],
)
def test_an_if_match_that_is_not_a_list_of_entity_tags_is_400(
    client, admin_headers, clinic_url, value
):
    before = row_counts()

    body = assert_problem(_rename(client, clinic_url, admin_headers, value), 400)

    assert body["code"] == "if_match_malformed"
    assert row_counts() == before
    assert client.get(clinic_url, headers=admin_headers).get_json()["name"] == "Cedar Clinic"


@pytest.mark.parametrize("form", ["{etag}", '"old", {etag}', 'W/"old" ,\t{etag}'])
def test_an_if_match_listing_the_current_etag_passes(client, admin_headers, clinic_url, form):
    etag = client.get(clinic_url, headers=admin_headers).headers["ETag"]

    response = _rename(client, clinic_url, admin_headers, form.format(etag=etag))

    assert response.status_code == 200, response.get_json()
