"""Imports run one way (DESIGN.md): a package imports only the packages below it, and
news travels up by signal. The order, refined where DESIGN.md leaves two packages side
by side: patients sit above clinics (a patient belongs to a clinic and is seen by its
staff), and outcomes above monitoring (a PHQ-9 self-harm answer raises a monitoring
alert). The application's composition roots (the factory, the CLI, the demo data, the
scheduler's job list, the model registry) may import everything.

A domain grown into sub-packages holds them in an order of its own (SUBPACKAGES), the
same way: a sub-package imports only the sub-packages below it, with one exception,
the models, which are one schema joined by foreign keys, so any sub-package may read
another's tables. The package's root modules compose its sub-packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # reads source files: one engine is enough

ROOT = Path(__file__).resolve().parent.parent / "kapt_api"
# The foundation's modules use each other; the domains on one level never do.
FOUNDATION = {
    "db",
    "rows",
    "errors",
    "clock",
    "config",
    "extensions",
    "fields",
    "openapi",
    "logs",
    "framing",
    "retries",
}
LAYERS = [
    FOUNDATION,
    {"auth"},
    {"idempotency"},
    {"clinics"},
    {"patients"},
    {"protocols"},
    {"scheduling"},
    {"monitoring", "reminders"},
    {"outcomes"},
]
SUBPACKAGES = {
    # links sits on top: a patient accepts a waitlist offer through it.
    "scheduling": [
        {"courses"},
        {"booking"},
        {"availability", "days", "feeds"},
        {"waitlist"},
        {"utilisation"},
        {"links"},
    ],
}
SHARED_MODULES = {"models"}
RANK = {name: level for level, names in enumerate(LAYERS) for name in names}
COMPOSITION_ROOTS = {"__init__", "app", "cli", "demo", "scheduler", "health", "models"}


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imported(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("kapt_api.")}
    return found


def upward_imports() -> list[str]:
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        package = _package_of(path)
        if package in COMPOSITION_ROOTS:
            continue
        assert package in RANK, f"{package} has no place in LAYERS"
        for target in _imported(ast.parse(path.read_text(encoding="utf-8"))) - {package}:
            above = RANK.get(target, -1) > RANK[package]
            beside = RANK.get(target) == RANK[package] and package not in FOUNDATION
            if above or beside:
                wrong.append(f"{path.relative_to(ROOT.parent)} imports kapt_api.{target}")
    return wrong


def test_every_package_imports_only_the_packages_below_it():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    package = tmp_path / "kapt_api"
    (package / "clinics").mkdir(parents=True)
    (package / "clinics" / "rules.py").write_text("from kapt_api.scheduling import rules\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", package)
    assert upward_imports() == ["kapt_api/clinics/rules.py imports kapt_api.scheduling"]


def _sub_imports(tree: ast.AST, package: str) -> set[tuple[str, str]]:
    """(sub-package, module) of each import of `package`'s sub-packages."""
    found = set()
    prefix = f"kapt_api.{package}."
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith(prefix):
                parts = name.removeprefix(prefix).split(".")
                found.add((parts[0], parts[1] if len(parts) > 1 else ""))
    return found


def upward_subpackage_imports() -> list[str]:
    wrong = []
    for package, levels in SUBPACKAGES.items():
        rank = {name: level for level, names in enumerate(levels) for name in names}
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT / package).parts
            if len(parts) == 1:
                continue  # the package's root modules compose its sub-packages
            sub = parts[0]
            assert sub in rank, f"{package}/{sub} has no place in SUBPACKAGES"
            for target, module in _sub_imports(ast.parse(path.read_text("utf-8")), package):
                if target == sub or module in SHARED_MODULES:
                    continue
                if target not in rank or rank[target] >= rank[sub]:
                    where = f"kapt_api.{package}.{target}" + (f".{module}" if module else "")
                    wrong.append(f"{path.relative_to(ROOT.parent)} imports {where}")
    return wrong


def test_every_subpackage_imports_only_the_subpackages_below_it():
    assert upward_subpackage_imports() == []


def test_the_check_sees_an_upward_or_sideways_subpackage_import(tmp_path, monkeypatch):
    package = tmp_path / "kapt_api" / "scheduling"
    for sub in ("courses", "days", "feeds"):
        (package / sub).mkdir(parents=True)
    (package / "courses" / "rules.py").write_text("from kapt_api.scheduling.booking import rules\n")
    (package / "days" / "service.py").write_text(
        "from kapt_api.scheduling.feeds import service\n"
        "from kapt_api.scheduling.booking.models import Appointment\n"
    )
    (package / "feeds" / "routes.py").write_text("from kapt_api.scheduling.courses import policy\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", package.parent)
    assert upward_subpackage_imports() == [
        "kapt_api/scheduling/courses/rules.py imports kapt_api.scheduling.booking.rules",
        "kapt_api/scheduling/days/service.py imports kapt_api.scheduling.feeds.service",
    ]
