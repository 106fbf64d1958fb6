"""JSON log lines carrying the request id, and never a patient's name, email, phone or
clinical value."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog

from kapt_api import logs
from kapt_api.auth.models import Role, User
from kapt_api.db import db
from kapt_api.logs import JsonLineFormatter

NEW_ID = re.compile(r"^[0-9a-f]{32}$")
GIVEN, FAMILY = "Philomena", "Strathclyde-Vasquez"
EMAIL = "philomena.sv@private-mail.test"
PHONE = "+15557654321"
NOTES = "Xanthic-Reverie intake note"
ALLERGY = "Quillwort pollen"
PHI = [GIVEN, FAMILY, EMAIL, PHONE, NOTES, ALLERGY, "1979-02-13"]


@pytest.fixture
def log_lines():
    """Every line the service writes during the test, formatted as its handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.addHandler(handler)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)


def test_the_service_logs_through_one_json_handler():
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_kapt", False)]

    assert len(ours) == 1
    assert isinstance(ours[0].formatter, JsonLineFormatter)


def test_each_request_writes_a_json_access_line_with_its_request_id(
    client, admin, admin_headers, log_lines
):
    response = client.get("/api/v1/auth/me?email=someone@mail.test", headers=admin_headers)

    [line] = [line for line in log_lines() if line.get("logger") == "kapt.access"]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/auth/me"
    assert line["status"] == 200
    assert line["user_id"] == str(admin.id)
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    assert "someone@mail.test" not in json.dumps(line)


def test_other_libraries_lines_are_json_with_the_request_id_too(
    app, client, log_lines, monkeypatch
):
    monkeypatch.setitem(app.config, "KAPT_LOGIN_RATE_LIMIT", "1 per minute")
    body = {"email": "someone@clinic.test", "password": "wrong password"}
    client.post("/api/v1/auth/tokens", json=body)

    refused = client.post("/api/v1/auth/tokens", json=body)

    assert refused.status_code == 429
    foreign = [line for line in log_lines() if not line["logger"].startswith("kapt")]
    assert foreign, "flask-limiter logs the refusal"
    assert {line["request_id"] for line in foreign} == {refused.headers["X-Request-ID"]}


def test_an_exception_logged_by_another_library_keeps_frames_not_its_message(log_lines):
    message = " ".join(["Zelda", "Marchbanks", PHONE])  # the source line must not show it
    try:
        raise ValueError(message)
    except ValueError:
        logging.getLogger("apscheduler.executors").exception("Job raised an exception")

    [line] = log_lines()
    assert line["error_type"] == "ValueError"
    assert "test_an_exception_logged_by_another_library" in line["frames"]
    assert "Zelda" not in json.dumps(line)
    assert PHONE not in json.dumps(line)


def test_our_own_logged_exception_keeps_frames_not_its_message(log_lines):
    message = f"patient allergies: {ALLERGY}"
    try:
        raise KeyError(message)
    except KeyError:
        structlog.get_logger("kapt.test").exception("failed")

    [line] = log_lines()
    assert line["error_type"] == "KeyError"
    assert ALLERGY not in json.dumps(line)


def test_no_request_id_leaks_into_lines_written_after_the_request(client, log_lines):
    client.get("/healthz")

    structlog.get_logger("kapt.test").info("between requests")

    assert "request_id" not in log_lines()[-1]


# --- X-Request-ID ---------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc12345", "front-desk.7f3a_2026-11-26", "A" * 64])
def test_a_sane_incoming_request_id_is_echoed_and_logged(client, log_lines, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] == incoming
    assert log_lines()[-1]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["short", "A" * 65, "<script>alert(1)</script>", "id with spaces", 'quote"d-123', "ü" * 10],
)
def test_an_unsafe_request_id_is_replaced(client, log_lines, incoming):
    response = client.get("/api/v1/nowhere", headers={"X-Request-ID": incoming})

    replaced = response.headers["X-Request-ID"]
    assert NEW_ID.match(replaced)
    assert response.get_json()["request_id"] == replaced
    assert incoming not in json.dumps(log_lines())


def test_every_request_without_an_id_gets_a_new_one(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]

    assert NEW_ID.match(first) and NEW_ID.match(second)
    assert first != second


def test_a_refusal_before_the_view_still_carries_the_request_id(client):
    response = client.get("/api/v1/auth/me", headers={"X-Request-ID": "refused-0001"})

    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "refused-0001"
    assert response.get_json()["request_id"] == "refused-0001"


# --- no patient data in the logs ------------------------------------------------------------


def _user_of(staff) -> User:
    return db.session.get(User, staff.user_id)


def test_a_patients_data_never_reaches_the_logs(
    client, make_clinic, make_staff, auth_headers, log_lines, caplog
):
    caplog.set_level(logging.DEBUG)
    clinic = make_clinic()
    front_desk = _user_of(make_staff(clinic, Role.FRONT_DESK))
    nurse_staff = make_staff(clinic, Role.NURSE)
    nurse = _user_of(nurse_staff)
    db.session.commit()
    body = {
        "clinic_id": str(clinic.id),
        "given_name": GIVEN,
        "family_name": FAMILY,
        "date_of_birth": "1979-02-13",
        "email": EMAIL,
        "phone": PHONE,
        "care_team": [str(nurse_staff.id)],
    }

    created = client.post("/api/v1/patients", json=body, headers=auth_headers(front_desk))
    assert created.status_code == 201, created.get_data(as_text=True)
    url = created.headers["Location"]
    read = client.get(url, headers=auth_headers(nurse))
    changed = client.patch(
        url,
        json={"clinical": {"clinical_notes": NOTES, "allergies": ALLERGY}},
        headers={**auth_headers(nurse), "If-Match": read.headers["ETag"]},
    )
    found = client.get(
        "/api/v1/patients", query_string={"q": FAMILY}, headers=auth_headers(front_desk)
    )
    refused = client.post(
        "/api/v1/patients", json={**body, "phone": f"{PHONE}x"}, headers=auth_headers(front_desk)
    )

    assert (read.status_code, changed.status_code, found.status_code) == (200, 200, 200)
    assert changed.get_json()["clinical"]["clinical_notes"] == NOTES
    assert FAMILY in found.get_data(as_text=True)
    assert refused.status_code == 422
    written = json.dumps(log_lines()) + caplog.text
    assert len([line for line in log_lines() if line.get("logger") == "kapt.access"]) == 5
    assert [value for value in PHI if value in written] == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("requested", "environment", "stream", "container", "expected"),
    [
        ("auto", "development", Terminal(), False, "console"),
        ("auto", "development", io.StringIO(), False, "json"),  # piped or written to a file
        ("auto", "development", Terminal(), True, "json"),
        ("auto", "production", Terminal(), False, "json"),
        ("auto", "test", Terminal(), False, "json"),
        ("json", "development", Terminal(), False, "json"),
        ("console", "production", io.StringIO(), True, "console"),  # said explicitly
    ],
)
def test_the_console_format_is_for_a_developer_at_a_terminal_only(
    monkeypatch, requested, environment, stream, container, expected
):
    monkeypatch.setattr(logs, "in_container", lambda: container)

    assert logs.resolve_format(requested, environment=environment, stream=stream) == expected


def test_a_container_is_recognised_by_its_marks(monkeypatch):
    monkeypatch.delenv("container", raising=False)
    monkeypatch.setattr(logs.os.path, "exists", lambda path: path == "/.dockerenv")
    assert logs.in_container()
    monkeypatch.setattr(logs.os.path, "exists", lambda path: False)
    assert not logs.in_container()
    monkeypatch.setenv("container", "podman")
    assert logs.in_container()


@pytest.fixture
def console_lines():
    """What the console format prints while the test runs, at the level it sets."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler._kapt = True  # the handler logs.configure dresses
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [handler]

    def start(level: str = "INFO") -> None:
        logs.configure(level, "console")

    try:
        yield start, lambda: stream.getvalue().splitlines()
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
        logs.configure("INFO", "json")


def test_console_lines_are_short_and_readable_with_frames_not_messages(console_lines):
    start, lines = console_lines
    start()
    log = structlog.get_logger("kapt.scheduler")

    log.info("job_deferred", job="heartbeat")
    try:
        raise ValueError(f"chart of {GIVEN}")
    except ValueError:
        log.exception("job_failed", job="agenda")
        logging.getLogger("alembic").exception("migration failed")

    first, failure, *rest = lines()
    assert re.fullmatch(
        r"\d\d:\d\d:\d\dZ \[info +\] job_deferred +\[kapt\.scheduler\] job=heartbeat", first
    )
    assert "[error" in failure and "job_failed" in failure and "error_type=ValueError" in failure
    assert any(line.strip().startswith("File ") for line in rest)  # the frames, below
    assert any("migration failed" in line and "[alembic]" in line for line in rest)
    assert not any(line.lstrip().startswith("{") for line in lines())
    assert GIVEN not in "\n".join(lines())


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_apscheduler_per_tick_lines_show_only_at_debug(console_lines, level, shown):
    start, lines = console_lines
    start(level)
    executor = logging.getLogger("apscheduler.executors.default")

    executor.info('Running job "heartbeat (trigger: interval[0:00:30])"')
    executor.warning("Run time of job was missed")

    ticks = [line for line in lines() if "Running job" in line]
    assert bool(ticks) is shown
    if shown:
        assert "[debug" in ticks[0]
    assert any("[warning" in line and "missed" in line for line in lines())
