"""The Dockerfile, checked without Docker: a slim Python 3.11 image running as a
non-root user, with the runtime dependencies only and every file the compose
services run actually copied in (and not left out by .dockerignore)."""

from __future__ import annotations

import fnmatch
import json
import shlex
from typing import Any

import pytest

from tests.ops import compose

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

DOCKERFILE = compose.ROOT / "Dockerfile"
DOCKERIGNORE = compose.ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    return patterns


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (a pattern that
    matches a parent folder excludes everything under it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def copied_sources() -> set[str]:
    sources: set[str] = set()
    for instruction, arguments in instructions():
        if instruction == "COPY":
            words = [w for w in shlex.split(arguments) if not w.startswith("--")]
            sources |= {w.rstrip("/").removeprefix("./") for w in words[:-1]}
    return sources


def files_the_services_run(services: dict[str, Any]) -> set[str]:
    """Repository files named by the kapt services' commands and health checks."""
    files = {"pyproject.toml", "kapt_api/__init__.py", "migrations/env.py"}
    for name in compose.KAPT_SERVICES:
        service = services[name]
        words = list(service["command"]) + list(service.get("healthcheck", {}).get("test", []))
        for word in words:
            if word.endswith(".py"):
                files.add(word)
            elif word in ("wsgi", "wsgi:app"):
                files.add("wsgi.py")
    return files


def test_the_image_is_python_311_slim_running_as_a_non_root_user():
    steps = instructions()
    users = [arguments for instruction, arguments in steps if instruction == "USER"]

    assert [a for i, a in steps if i == "FROM"] == ["python:3.11-slim"]
    assert users, "the image must switch to its own user"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_installs_the_project_without_test_or_dev_dependencies():
    runs = " ".join(arguments for instruction, arguments in instructions() if instruction == "RUN")

    assert "pip install" in runs
    assert "[" not in runs, "no optional extras: test and lint tools stay out of the image"
    assert "requirements" not in runs


@pytest.mark.parametrize("path", sorted(files_the_services_run(compose.load()["services"])))
def test_every_file_the_services_run_is_copied_into_the_image(path):
    assert (compose.ROOT / path).is_file(), f"{path} does not exist"
    assert not ignored(path, ignore_patterns()), f".dockerignore leaves {path} out"
    sources = copied_sources()
    assert any(path == s or path.startswith(f"{s}/") for s in sources), f"no COPY of {path}"


def test_the_build_context_leaves_out_secrets_and_local_state():
    patterns = ignore_patterns()

    for path in (".env", "production.env", ".venv/bin/python", ".git/config", "instance/kapt.db"):
        assert ignored(path, patterns), path
    for path in ("kapt_api/app.py", "migrations/versions/0001_foundation.py", "wsgi.py"):
        assert not ignored(path, patterns), path


def test_the_image_default_command_is_the_api():
    cmd = [arguments for instruction, arguments in instructions() if instruction == "CMD"]
    api = compose.load()["services"]["api"]["command"]

    assert len(cmd) == 1
    assert json.loads(cmd[0]) == api
