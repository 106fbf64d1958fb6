"""The signing key: production refuses a weak or published one, development keeps a
random one in instance/secret_key, the test environment one per process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kapt_api import config
from kapt_api.config import ConfigError
from tests.config.conftest import ROOT

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

# The key that kapt-api's source once gave every development server.
OLD_SOURCE_KEY = "kapt-development-secret-do-not-use-in-production"


# --- production needs a real secret ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "KAPT_SECRET_KEY must be set in production"),
        (OLD_SOURCE_KEY, "KAPT_SECRET_KEY is a key published in kapt-api's source"),
        (
            "short-secret",
            "KAPT_SECRET_KEY must be at least 32 characters in production (it has 12)",
        ),
        ("x" * 31, "KAPT_SECRET_KEY must be at least 32 characters"),
    ],
)
def test_production_refuses_to_start_without_a_strong_secret(secret, message):
    environ = {"KAPT_ENV": "production"}
    if secret is not None:
        environ["KAPT_SECRET_KEY"] = secret

    with pytest.raises(ConfigError) as refused:
        config.load(environ=environ)

    assert str(refused.value).startswith(message)


def test_production_starts_with_a_strong_secret():
    loaded = config.load(environ={"KAPT_ENV": "production", "KAPT_SECRET_KEY": "x" * 32})

    assert loaded["SECRET_KEY"] == "x" * 32


def test_without_kapt_env_a_key_must_be_as_strong_as_in_production():
    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_SECRET_KEY": "short-secret"})

    assert str(refused.value) == (
        "KAPT_SECRET_KEY must be at least 32 characters in production (it has 12) "
        "(KAPT_ENV is unset, which means production)."
    )


@pytest.mark.parametrize("env", [None, "development", "test", "production"])
def test_the_key_once_published_in_the_source_is_refused_everywhere(env):
    environ = {"KAPT_SECRET_KEY": OLD_SOURCE_KEY}
    if env is not None:
        environ["KAPT_ENV"] = env

    with pytest.raises(ConfigError, match=r"^KAPT_SECRET_KEY is a key published"):
        config.load(environ=environ)


@pytest.mark.parametrize("env", ["development", "test"])
def test_a_key_that_is_set_is_used_in_development_and_test_too(env, instance_dir):
    assert config.load(environ={"KAPT_ENV": env, "KAPT_SECRET_KEY": "mine"})["SECRET_KEY"] == "mine"
    assert not instance_dir.exists()


# --- development keeps a random key in instance/secret_key ------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_development_makes_a_random_key_once_in_the_instance_folder(instance_dir):
    key = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]

    key_file = instance_dir / "secret_key"
    assert key_file.read_text() == key + "\n"
    assert _mode(key_file) == 0o600
    assert len(key) >= 64  # secrets.token_urlsafe(48)
    assert key != OLD_SOURCE_KEY
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]  # no draft left


def test_development_reuses_the_key_on_later_starts(instance_dir):
    first = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]
    made = (instance_dir / "secret_key").stat()

    again = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]

    assert again == first
    later = (instance_dir / "secret_key").stat()
    assert (later.st_ino, later.st_mtime_ns) == (made.st_ino, made.st_mtime_ns)


def test_development_keeps_an_existing_key_of_the_developers_own(instance_dir):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_text("k" * 40 + "\n")
    key_file.chmod(0o600)

    assert config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"] == "k" * 40


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_other_users_can_open_is_refused(instance_dir, mode):
    config.instance_secret_key()
    key_file = instance_dir / "secret_key"
    key_file.chmod(mode)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    assert str(refused.value).startswith(
        f"{key_file} is open to other users (mode {mode:04o}), so anyone on this machine "
        "could sign tokens with it: run `chmod 600"
    )


@pytest.mark.parametrize("content", ["", "\n", "too-short-a-key\n"])
def test_a_key_file_holding_too_short_a_key_is_refused(instance_dir, content):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_text(content)
    key_file.chmod(0o600)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    length = len(content.strip())
    assert str(refused.value) == (
        f"{key_file} holds a key of {length} characters, fewer than 32: "
        "delete it to have a new key made."
    )


def test_a_key_file_that_cannot_be_read_is_refused_saying_so(instance_dir):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_bytes(b"\xff" * 64)
    key_file.chmod(0o600)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    assert str(refused.value).startswith(
        f"KAPT_SECRET_KEY is not set and {key_file} cannot be used"
    )


def test_a_process_that_loses_the_race_to_make_the_key_uses_the_winners(instance_dir, monkeypatch):
    """Another process links its key file between this one's look and its own link."""
    link = os.link

    def another_process_first(source: Any, target: Any) -> None:
        Path(target).write_text("w" * 64 + "\n")
        Path(target).chmod(0o600)
        link(source, target)

    monkeypatch.setattr(config.os, "link", another_process_first)

    assert config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"] == "w" * 64
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]


STARTER = """
import sys
from pathlib import Path
from kapt_api import config
config.INSTANCE_DIR = Path(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"], flush=True)
"""


def test_processes_starting_together_agree_on_one_key(instance_dir):
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(instance_dir)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in starting:  # every one imported and waiting: then all go at once
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in starting:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        keys = {process.communicate(timeout=60)[0].strip() for process in starting}
    finally:
        for process in starting:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert keys == {(instance_dir / "secret_key").read_text().strip()}
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]


# --- the test environment: a random key per process ------------------------------------------


def test_the_test_environment_keeps_one_random_key_per_process_and_writes_none(instance_dir):
    first = config.load(environ={"KAPT_ENV": "test"})["SECRET_KEY"]
    second = config.load(overrides={"KAPT_ENV": "test"}, environ={})["SECRET_KEY"]
    elsewhere = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kapt_api import config; "
            "print(config.load(environ={'KAPT_ENV': 'test'})['SECRET_KEY'])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()

    assert first == second
    assert len(first) >= 64
    assert elsewhere not in {"", first}
    assert not instance_dir.exists()
