"""docker-compose.yml read the way Docker Compose reads it, without Docker: YAML with
anchors and merge keys, then `${VAR}` interpolation from the caller's environment."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
# The services that run the kapt-api image, and so read KAPT_* settings.
KAPT_SERVICES = ("migrate", "api", "scheduler")

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error},
# ${NAME:+alternative}, ${NAME+alternative}, $NAME (Compose Specification, "Interpolation").
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(LookupError):
    """A `${NAME:?message}` variable is unset: Compose refuses to start."""


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Substitute variables in one string as Compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"] or "", match["arg"] or ""
        is_set = name in environ and (environ[name] != "" or not op.startswith(":"))
        if op.endswith("-"):
            return environ[name] if is_set else arg
        if op.endswith("?"):
            if not is_set:
                raise MissingVariable(f"{name}: {arg}")
            return environ[name]
        if op.endswith("+"):
            return arg if is_set else ""
        return environ.get(name, "")

    return _VARIABLE.sub(substitute, value)


def variables_in(node: Any) -> Iterator[str]:
    """Every variable name that a value (or anything nested in it) interpolates."""
    if isinstance(node, str):
        for match in _VARIABLE.finditer(node):
            if not match["escaped"]:
                yield match["name"] or match["bare"]
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from variables_in(key)
            yield from variables_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from variables_in(item)


def environment(service: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as its container sees it, given the host's variables.
    A key without a value passes the host's variable through, or nothing."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    result: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            if key in environ:
                result[key] = environ[key]
        elif isinstance(value, bool):
            result[key] = "true" if value else "false"
        else:
            result[key] = interpolate(str(value), environ)
    return result
