"""docker-compose.yml, checked without Docker: valid against the Compose Specification,
and wired as DESIGN.md says: gunicorn serves the API and never runs the scheduler, the
scheduler is its own service, migrations run once before either, every setting exists."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import runpy
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from jsonschema.validators import validator_for

from kapt_api import config
from tests.ops import compose

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
GUNICORN_CONFIG = compose.ROOT / "deploy" / "gunicorn.conf.py"
SETTING_NAMES = {setting.env for setting in config.SETTINGS}
# What an operator exports before `docker compose up` (see the header of the file).
HOST_ENVIRON = {
    "KAPT_SECRET_KEY": secrets.token_urlsafe(48),
    "POSTGRES_PASSWORD": secrets.token_hex(24),
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return compose.load()


@pytest.fixture(scope="module")
def services(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["services"]


def schema_errors(document: Any) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def test_the_vendored_schema_is_the_published_one():
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_is_valid_against_the_compose_specification(spec):
    assert schema_errors(spec) == []


def test_the_schema_check_catches_a_mistyped_key(spec):
    broken = copy.deepcopy(spec)
    broken["services"]["api"]["comand"] = broken["services"]["api"].pop("command")
    broken["services"]["db"]["healthcheck"]["interval"] = ["5s"]

    errors = schema_errors(broken)

    assert any(e.startswith("services/api") and "comand" in e for e in errors), errors
    assert any(e.startswith("services/db/healthcheck/interval") for e in errors), errors


def test_the_api_is_gunicorn_serving_wsgi_app_and_never_the_scheduler(services, monkeypatch):
    api = services["api"]
    command = api["command"]
    environment = compose.environment(api, HOST_ENVIRON)

    assert command[0] == "gunicorn"
    assert command[-1] == "wsgi:app"
    assert not any("schedul" in part for part in command)
    assert environment["KAPT_EMBEDDED_SCHEDULER"] == "false"
    # Several workers, from the config file the command names.
    assert command[command.index("--config") + 1] == "deploy/gunicorn.conf.py"
    monkeypatch.setenv("WEB_CONCURRENCY", environment["WEB_CONCURRENCY"])
    gunicorn_settings = runpy.run_path(str(GUNICORN_CONFIG))
    assert gunicorn_settings["workers"] >= 2
    assert gunicorn_settings["bind"].endswith(":8000")
    assert gunicorn_settings["accesslog"] is None  # full URLs, query strings included


def test_the_scheduler_is_its_own_service_on_the_same_image(services):
    scheduler, api = services["scheduler"], services["api"]

    assert scheduler["command"] == ["flask", "--app", "wsgi", "kapt", "scheduler"]
    assert (scheduler["build"], scheduler["image"]) == (api["build"], api["image"])
    assert "ports" not in scheduler
    # A replica of the scheduler is safe; but nothing else runs it.
    others = [name for name, s in services.items() if name != "scheduler"]
    assert not any("scheduler" in services[name].get("command", []) for name in others)


def test_the_scheduler_sends_mail_through_mailpit(services):
    environment = compose.environment(services["scheduler"], HOST_ENVIRON)

    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert environment["KAPT_SMTP_HOST"] == "mailpit"
    assert environment["KAPT_SMTP_PORT"] in services["mailpit"]["expose"]
    assert "127.0.0.1:8025:8025" in services["mailpit"]["ports"]
    assert services["scheduler"]["depends_on"]["mailpit"]["condition"] == "service_started"


def test_migrations_run_once_before_the_api_and_the_scheduler_start(services):
    migrate = services["migrate"]

    assert migrate["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "scheduler"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["db"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_database_is_health_checked_and_keeps_its_data_in_a_named_volume(spec):
    db = spec["services"]["db"]

    assert db["image"] == "postgres:16"
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    volume, mount = db["volumes"][0].split(":", 1)
    assert volume in spec["volumes"]
    assert mount == "/var/lib/postgresql/data"


def test_the_api_health_check_asks_readyz_on_the_published_port(services):
    api = services["api"]
    check = api["healthcheck"]["test"]

    assert check[:3] == ["CMD", "python", "deploy/healthcheck.py"]
    assert check[3] == "http://127.0.0.1:8000/readyz"
    assert "8000:8000" in api["ports"]


def test_every_kapt_variable_in_the_compose_file_is_a_setting(spec, services):
    names = set(compose.variables_in(spec))
    for service in services.values():
        names |= set(service.get("environment") or {})
    kapt_names = {name for name in names if name.startswith("KAPT_")}

    assert kapt_names, "the compose file configures the services with KAPT_* settings"
    assert kapt_names - SETTING_NAMES == set()


def test_the_secret_key_is_required_and_has_no_default(services):
    for name in compose.KAPT_SERVICES:
        raw = services[name]["environment"]["KAPT_SECRET_KEY"]
        assert re.fullmatch(r"\$\{KAPT_SECRET_KEY:\?[^}]+\}", raw), raw
        with pytest.raises(compose.MissingVariable, match="KAPT_SECRET_KEY"):
            compose.environment(services[name], {"POSTGRES_PASSWORD": "x"})


def test_each_kapt_service_gets_the_same_valid_production_config(services):
    environments = {
        name: compose.environment(services[name], HOST_ENVIRON) for name in compose.KAPT_SERVICES
    }
    shared = {k: v for k, v in environments["api"].items() if k.startswith("KAPT_")}

    for environment in environments.values():
        assert {k: v for k, v in environment.items() if k.startswith("KAPT_")} == shared
        settings = config.load(environment)  # raises ConfigError on anything malformed
        assert settings["KAPT_ENV"] == "production"
        assert settings["SECRET_KEY"] == HOST_ENVIRON["KAPT_SECRET_KEY"]
        assert settings["KAPT_EMBEDDED_SCHEDULER"] is False
        assert settings["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
        database = sa.make_url(settings["SQLALCHEMY_DATABASE_URI"])
        assert (database.drivername, database.host) == ("postgresql+psycopg", "db")
        assert database.password == HOST_ENVIRON["POSTGRES_PASSWORD"]
        assert database.username == services["db"]["environment"]["POSTGRES_USER"]
        assert database.database == services["db"]["environment"]["POSTGRES_DB"]
    assert "redis" in services


def test_the_processes_guide_runs_what_compose_runs(services):
    guide = (compose.ROOT / "docs" / "processes.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bKAPT_[A-Z0-9_]*[A-Z0-9]\b", guide))

    for name in ("migrate", "scheduler"):
        assert " ".join(services[name]["command"]) in guide
    assert " ".join(services["api"]["command"][:3]) in guide
    assert named, "the guide configures the processes with KAPT_* settings"
    assert named - set(services["api"]["environment"]) == set()
