"""Every third-party module the running service imports is a declared runtime
dependency: `make run` and the Docker image install the runtime set only, so a
module that only the test extras bring in crashes them on a fresh clone."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_SOURCES = ("kapt_api", "deploy", "wsgi.py")
OWN_PACKAGES = {"kapt_api"}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_runtime_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = (re.match(r"[A-Za-z0-9._-]+", spec) for spec in project["dependencies"])
    return {_normalised(name.group(0)) for name in names if name}


def imported_top_modules(path: Path) -> set[str]:
    """Top-level names of absolute imports in one file, wherever they appear."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def third_party_imports(root: Path = ROOT) -> dict[str, set[str]]:
    """Each third-party module imported by the runtime sources, with the files that import it."""
    files: list[Path] = []
    for source in RUNTIME_SOURCES:
        path = root / source
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    where: dict[str, set[str]] = {}
    for path in files:
        for module in imported_top_modules(path):
            if module in sys.stdlib_module_names or module in OWN_PACKAGES:
                continue
            where.setdefault(module, set()).add(str(path.relative_to(root)))
    return where


def undeclared(imports: dict[str, set[str]], declared: set[str]) -> dict[str, str]:
    """The imported modules no declared runtime dependency provides, with why."""
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, str] = {}
    for module, files in sorted(imports.items()):
        distributions = {_normalised(d) for d in providers.get(module, [])}
        if not distributions & declared:
            found_in = ", ".join(sorted(distributions)) or "no installed distribution"
            missing[module] = f"imported by {', '.join(sorted(files))}; provided by {found_in}"
    return missing


def test_every_imported_module_is_a_declared_runtime_dependency():
    imports = third_party_imports()
    assert {"flask", "sqlalchemy", "apscheduler"} <= set(imports)  # the scan sees our imports
    assert undeclared(imports, declared_runtime_distributions()) == {}


def test_an_import_without_its_dependency_is_caught(tmp_path):
    package = tmp_path / "kapt_api"
    package.mkdir()
    (package / "channel.py").write_text("import requests\nfrom flask import Flask\n")
    (tmp_path / "wsgi.py").write_text("import os\n")
    imports = third_party_imports(tmp_path)
    assert set(imports) == {"requests", "flask"}
    declared = declared_runtime_distributions() - {"requests"}
    assert list(undeclared(imports, declared)) == ["requests"]


def test_test_tools_are_not_runtime_dependencies():
    """The reverse mistake: pytest and friends in the image and in `make run`'s venv."""
    assert not declared_runtime_distributions() & {"pytest", "hypothesis", "schemathesis", "ruff"}
