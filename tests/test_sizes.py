"""Small pieces (STYLE.md habit 8): a module a newcomer can read at one sitting, a
function that fits on a screen. A function may run longer than FUNCTION_LINES only
with a comment just above it that starts `# Kept whole:` and says why it must be so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # reads source files: one engine is enough

ROOT = Path(__file__).resolve().parent.parent / "kapt_api"
MODULE_LINES = 300
FUNCTION_LINES = 40
REASON = "# Kept whole:"


def long_modules(root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root.parent)}: {count} lines"
        for path in sorted(root.rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    ]


def _reason_above(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    above = first - 1
    while above >= 0 and lines[above].strip().startswith("#"):
        if lines[above].strip().startswith(REASON):
            return True
        above -= 1
    return False


def long_functions(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > FUNCTION_LINES and not _reason_above(lines, node):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}: {length}")
    return found


def test_no_module_is_longer_than_a_sitting():
    assert long_modules() == []


def test_a_long_function_says_why_it_is_kept_whole():
    assert long_functions() == []


def test_the_checks_see_a_long_module_and_an_unexplained_long_function(tmp_path):
    package = tmp_path / "kapt_api"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    (package / "big.py").write_text("\n" * MODULE_LINES + f"def f():\n{body}\n")
    (package / "kept.py").write_text(f"# Kept whole: one table.\ndef g():\n{body}\n")
    big = f"kapt_api/big.py: {MODULE_LINES + FUNCTION_LINES + 1} lines"
    assert long_modules(package) == [big]
    unexplained = f"kapt_api/big.py:{MODULE_LINES + 1} f: {FUNCTION_LINES + 1}"
    assert long_functions(package) == [unexplained]
