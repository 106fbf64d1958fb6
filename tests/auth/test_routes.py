"""Logins, refresh, logout, and the rule that every API endpoint needs a token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from werkzeug.routing import UUIDConverter

from kapt_api import clock
from kapt_api.auth.identity import requires
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.errors import PROBLEM_MIMETYPE, Forbidden
from tests.auth.conftest import CURRENT, LOGIN, ME, REFRESH, bearer, without_request_id
from tests.conftest import PASSWORD

FROZEN = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
# The key that kapt-api's source once gave every server started without KAPT_ENV.
OLD_SOURCE_KEY = "kapt-development-secret-do-not-use-in-production"


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body = response.get_json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    if code is not None:
        assert body["code"] == code
    return body


# --- logging in -----------------------------------------------------------------------------


def test_login_gives_an_access_and_a_refresh_token_with_their_expiry(make_user, login):
    user = make_user(Role.NURSE, Role.THERAPIST, email="nina@clinic.test", full_name="Nina N")
    clock.freeze(FROZEN)

    response = login("Nina@Clinic.test")

    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]
    assert body["expires_in"] == 15 * 60
    assert body["expires_at"] == "2026-03-02T14:15:00+00:00"
    assert body["refresh_expires_at"] == "2026-03-03T02:00:00+00:00"
    assert body["user"] == {
        "id": str(user.id),
        "email": "nina@clinic.test",
        "full_name": "Nina N",
        "roles": ["nurse", "therapist"],
    }
    assert user.last_login_at == FROZEN


def test_token_lifetimes_follow_the_configuration(app, make_user, login, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_ACCESS_TOKEN_MINUTES", 5)
    monkeypatch.setitem(app.config, "KAPT_REFRESH_TOKEN_HOURS", 1)
    user = make_user(Role.NURSE)
    clock.freeze(FROZEN)

    body = login(user.email).get_json()

    assert body["expires_in"] == 300
    assert body["expires_at"] == "2026-03-02T14:05:00+00:00"
    assert body["refresh_expires_at"] == "2026-03-02T15:00:00+00:00"


def test_the_access_token_opens_the_api(client, make_user, login):
    user = make_user(Role.FRONT_DESK)
    token = login(user.email).get_json()["access_token"]

    response = client.get(ME, headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["id"] == str(user.id)


def test_wrong_password_and_unknown_email_get_the_same_answer(make_user, login):
    user = make_user(Role.NURSE)

    wrong_password = login(user.email, "not the right password")
    unknown_email = login("nobody@clinic.test", "not the right password")

    assert_problem(wrong_password, 401, "bad_credentials")
    assert_problem(unknown_email, 401, "bad_credentials")
    assert without_request_id(wrong_password.get_json()) == without_request_id(
        unknown_email.get_json()
    )
    assert wrong_password.headers["WWW-Authenticate"] == unknown_email.headers["WWW-Authenticate"]


def test_a_deactivated_account_cannot_log_in_and_is_told_nothing_more(make_user, login):
    user = make_user(Role.NURSE)
    user.active = False
    db.session.flush()

    body = assert_problem(login(user.email), 401, "bad_credentials")

    assert body["detail"] == "Email or password is not correct."


def test_login_input_is_checked_field_by_field(client):
    response = client.post(LOGIN, json={"email": "not-an-email"})

    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"email", "password"}


# --- rate limiting --------------------------------------------------------------------------


@pytest.fixture
def three_per_minute(app, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_LOGIN_RATE_LIMIT", "3 per minute")


@pytest.mark.usefixtures("three_per_minute")
def test_repeated_failures_from_one_address_get_429_with_retry_after(make_user, login):
    user = make_user(Role.NURSE)
    for attempt in range(3):
        assert login(f"guess{attempt}@clinic.test", "wrong password!").status_code == 401

    refused = login(user.email)  # even the right password waits now

    body = assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert "Retry-After" in body["detail"]
    assert login(user.email, address="10.0.0.2").status_code == 201


@pytest.mark.usefixtures("three_per_minute")
def test_repeated_failures_on_one_account_are_limited_from_any_address(make_user, login):
    user = make_user(Role.NURSE)
    for attempt in range(3):
        assert login(user.email, "wrong password!", address=f"10.0.1.{attempt}").status_code == 401

    refused = login(user.email, address="10.0.1.99")

    assert_problem(refused, 429)
    assert "Retry-After" in refused.headers
    other = make_user(Role.NURSE)
    assert login(other.email, address="10.0.1.98").status_code == 201


@pytest.mark.usefixtures("three_per_minute")
def test_successful_logins_do_not_count_towards_the_limit(make_user, login):
    user = make_user(Role.NURSE)
    for _ in range(6):
        assert login(user.email).status_code == 201

    assert login(user.email, "wrong password!").status_code == 401


def test_only_a_refusal_to_wait_says_retry_after(make_user, login):
    user = make_user(Role.NURSE)

    answers = [login(user.email), login(user.email, "wrong password!")]

    assert [a.status_code for a in answers] == [201, 401]
    assert ["Retry-After" in a.headers for a in answers] == [False, False]


@pytest.mark.usefixtures("three_per_minute")
def test_invalid_input_does_not_count_as_a_failed_login(client, make_user, login):
    user = make_user(Role.NURSE)
    for _ in range(5):
        assert client.post(LOGIN, json={"email": user.email}).status_code == 422

    assert login(user.email).status_code == 201


# --- refresh and logout ---------------------------------------------------------------------


def test_the_refresh_token_gives_a_new_access_token(client, make_user, login):
    user = make_user(Role.NURSE)
    first = login(user.email).get_json()
    clock.freeze(FROZEN)

    response = client.post(REFRESH, headers=bearer(first["refresh_token"]))

    assert response.status_code == 201
    body = response.get_json()
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] is None
    assert body["expires_at"] == "2026-03-02T14:15:00+00:00"
    assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200


def test_an_access_token_cannot_refresh(client, make_user, login):
    tokens = login(make_user(Role.NURSE).email).get_json()

    assert_problem(client.post(REFRESH, headers=bearer(tokens["access_token"])), 401)


def test_a_refresh_token_is_not_an_access_token(client, make_user, login):
    tokens = login(make_user(Role.NURSE).email).get_json()

    assert_problem(client.get(ME, headers=bearer(tokens["refresh_token"])), 401)


def test_logout_revokes_every_token_of_that_login_session(client, make_user, login):
    user = make_user(Role.NURSE)
    session = login(user.email).get_json()
    refreshed = client.post(REFRESH, headers=bearer(session["refresh_token"])).get_json()
    other_session = login(user.email).get_json()

    response = client.delete(CURRENT, headers=bearer(session["access_token"]))

    assert response.status_code == 204
    for token in (session["access_token"], refreshed["access_token"]):
        assert_problem(client.get(ME, headers=bearer(token)), 401, "token_revoked")
    assert_problem(
        client.post(REFRESH, headers=bearer(session["refresh_token"])), 401, "token_revoked"
    )
    assert client.get(ME, headers=bearer(other_session["access_token"])).status_code == 200


def test_logout_twice_answers_401_the_second_time(client, make_user, login):
    token = login(make_user(Role.NURSE).email).get_json()["access_token"]
    assert client.delete(CURRENT, headers=bearer(token)).status_code == 204

    assert_problem(client.delete(CURRENT, headers=bearer(token)), 401, "token_revoked")


# --- tokens that no longer open the door ----------------------------------------------------


def test_a_deactivated_users_token_is_refused(client, make_user, auth_headers):
    user = make_user(Role.ADMIN)
    headers = auth_headers(user)
    assert client.get(ME, headers=headers).status_code == 200

    user.active = False
    db.session.flush()

    assert_problem(client.get(ME, headers=headers), 401, "account_inactive")


def test_an_expired_token_is_refused(client, make_user):
    user = make_user(Role.ADMIN)
    token = create_access_token(
        identity=str(user.id),
        additional_claims={"sid": uuid.uuid4().hex},
        expires_delta=timedelta(seconds=-1),
    )

    assert_problem(client.get(ME, headers=bearer(token)), 401, "token_expired")


def test_a_token_signed_with_another_key_is_refused(app, client, make_user, monkeypatch):
    user = make_user(Role.ADMIN)
    monkeypatch.setitem(app.config, "JWT_SECRET_KEY", "another-key-" * 4)
    forged = create_access_token(identity=str(user.id), additional_claims={"sid": "x" * 32})
    monkeypatch.undo()

    assert_problem(client.get(ME, headers=bearer(forged)), 401, "token_invalid")


def test_a_token_signed_with_the_key_once_in_the_source_is_refused(
    app, client, make_user, login, monkeypatch
):
    """Even naming a real login session of a real administrator."""
    user = make_user(Role.ADMIN)
    session_id = decode_token(login(user.email).get_json()["access_token"])["sid"]
    monkeypatch.setitem(app.config, "JWT_SECRET_KEY", OLD_SOURCE_KEY)
    forged = {
        "access": create_access_token(identity=str(user.id), additional_claims={"sid": session_id}),
        "refresh": create_refresh_token(
            identity=str(user.id), additional_claims={"sid": session_id}
        ),
    }
    monkeypatch.undo()

    assert app.config["JWT_SECRET_KEY"] != OLD_SOURCE_KEY
    assert_problem(client.get(ME, headers=bearer(forged["access"])), 401, "token_invalid")
    assert_problem(client.post(REFRESH, headers=bearer(forged["refresh"])), 401, "token_invalid")


@pytest.mark.parametrize(
    "claims", [{}, {"sid": uuid.uuid4().hex}, {"sid": ""}, {"sid": 7}], ids=repr
)
def test_a_well_signed_token_naming_no_issued_session_is_refused(client, make_user, claims):
    user = make_user(Role.ADMIN)
    access = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh = create_refresh_token(identity=str(user.id), additional_claims=claims)

    body = assert_problem(client.get(ME, headers=bearer(access)), 401, "session_unknown")
    assert body["detail"] == "The token names no login session of this server; log in again."
    assert_problem(client.post(REFRESH, headers=bearer(refresh)), 401, "session_unknown")


def test_a_session_of_one_user_does_not_open_the_api_for_another(client, make_user, login):
    nurse, admin = make_user(Role.NURSE), make_user(Role.ADMIN)
    session_id = decode_token(login(nurse.email).get_json()["access_token"])["sid"]
    token = create_access_token(identity=str(admin.id), additional_claims={"sid": session_id})

    assert_problem(client.get(ME, headers=bearer(token)), 401, "session_unknown")


def test_every_token_of_an_ended_session_is_refused(client, make_user, login):
    user = make_user(Role.NURSE)
    clock.freeze(FROZEN)
    session = login(user.email).get_json()
    clock.freeze(FROZEN + timedelta(hours=11, minutes=59))
    refreshed = client.post(REFRESH, headers=bearer(session["refresh_token"])).get_json()
    assert refreshed["expires_at"] == "2026-03-03T02:00:00+00:00"  # capped at the session's end
    assert client.get(ME, headers=bearer(refreshed["access_token"])).status_code == 200

    # Token expiry is checked against the real time, the session's against kapt_api.clock.
    clock.freeze(FROZEN + timedelta(hours=12))

    for token in (session["access_token"], refreshed["access_token"]):
        body = assert_problem(client.get(ME, headers=bearer(token)), 401, "session_expired")
    assert body["detail"] == "The login session has ended; log in again."
    assert_problem(
        client.post(REFRESH, headers=bearer(session["refresh_token"])), 401, "session_expired"
    )
    fresh = login(user.email).get_json()["access_token"]
    assert client.get(ME, headers=bearer(fresh)).status_code == 200


def test_an_authenticated_request_reads_its_session_and_user_in_one_lookup(
    client, make_user, login
):
    token = login(make_user(Role.NURSE).email).get_json()["access_token"]
    db.session.expunge_all()  # as a server's next request starts: nothing loaded yet
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(ME, headers=bearer(token)).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)

    session_reads = [s for s in statements if "FROM login_sessions" in s]
    assert len(session_reads) == 1, statements
    assert "JOIN users" in session_reads[0] and "WHERE login_sessions.id =" in session_reads[0]
    assert not [s for s in statements if s.startswith("SELECT") and "FROM users" in s], statements


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_a_malformed_authorization_header_is_refused(client, header):
    response = client.get(ME, headers={"Authorization": header})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_openapi_document_names_every_reason_for_a_401(client):
    responses = client.get("/openapi.json").get_json()["components"]["responses"]
    described = responses["UNAUTHORIZED"]["description"]

    for code in (
        "token_missing",
        "token_invalid",
        "token_expired",
        "token_revoked",
        "session_unknown",
        "session_expired",
        "account_inactive",
        "fresh_login_needed",
        "bad_credentials",
    ):
        assert f"`{code}`" in described


# --- closed by default ----------------------------------------------------------------------

PUBLIC_API = {
    ("auth.create_token", "POST"),
    # A calendar app cannot send a bearer token: the feed's URL carries its own secret.
    ("calendar.feeds.calendar_feed", "GET"),
    # A patient has no login: the link's URL carries its own secret (scheduling/links).
    ("patient_links.read_patient_link", "GET"),
    ("patient_links.confirm_by_link", "POST"),
    ("patient_links.confirm_escort_by_link", "POST"),
    ("patient_links.cancel_by_link", "POST"),
    ("patient_links.accept_offer_by_link", "POST"),
    # The SMS gateway signs its posts instead (HMAC-SHA256 of the body).
    ("reminders.receive_sms_reply", "POST"),
}


def _example_url(app, rule, method):
    values = {
        name: uuid.uuid4() if isinstance(converter, UUIDConverter) else "x"
        for name, converter in rule._converters.items()
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def _api_operations(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if (rule.endpoint, method) not in PUBLIC_API:
                    yield rule, method


def test_every_api_endpoint_answers_401_without_a_token(app, client):
    operations = list(_api_operations(app))
    assert len(operations) >= 4  # refresh, logout, me, audit events at least

    answers = {}
    for rule, method in operations:
        url = _example_url(app, rule, method)
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        response = client.open(url, method=method, json=body)
        answers[f"{method} {rule.rule}"] = (response.status_code, response.mimetype)

    refused = {op: answer for op, answer in answers.items() if answer != (401, PROBLEM_MIMETYPE)}
    assert refused == {}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_service_endpoints_answer_without_a_token(client, path):
    assert client.get(path).status_code == 200


def test_a_token_is_checked_before_the_body(client):
    response = client.post(REFRESH, data="{not json", headers={"Content-Type": "application/json"})

    assert_problem(response, 401)


# --- roles ----------------------------------------------------------------------------------


def test_a_missing_role_gives_403_naming_the_roles_needed(client, make_user, auth_headers):
    nurse = make_user(Role.NURSE)

    response = client.get("/api/v1/audit-events", headers=auth_headers(nurse))

    body = assert_problem(response, 403, "missing_role")
    assert body["detail"] == "This needs one of these roles: admin."


def test_requires_names_every_role_that_would_do(app, make_user, auth_headers):
    front_desk = make_user(Role.FRONT_DESK)
    prescriber = make_user(Role.PRESCRIBER)
    view = requires(Role.PRESCRIBER, Role.NURSE)(lambda: "done")

    with (
        app.test_request_context(headers=auth_headers(front_desk)),
        pytest.raises(Forbidden) as refused,
    ):
        view()
    with app.test_request_context(headers=auth_headers(prescriber)):
        allowed = view()

    assert refused.value.detail == "This needs one of these roles: nurse, prescriber."
    assert allowed == "done"


def test_the_caller_of_one_request_is_not_the_caller_of_the_next(client, admin_headers):
    assert client.get(ME, headers=admin_headers).status_code == 200

    assert_problem(client.get(ME), 401, "token_missing")
    assert_problem(client.get("/api/v1/audit-events"), 401, "token_missing")


def test_login_with_the_right_password_after_logout_opens_a_new_session(client, make_user, login):
    user = make_user(Role.NURSE)
    first = login(user.email, PASSWORD).get_json()["access_token"]
    client.delete(CURRENT, headers=bearer(first))

    second = login(user.email, PASSWORD).get_json()["access_token"]

    assert client.get(ME, headers=bearer(second)).status_code == 200
