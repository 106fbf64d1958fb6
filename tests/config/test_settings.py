"""The settings' documented defaults, and the README's table made from them."""

from __future__ import annotations

import runpy
import warnings

import pytest

from kapt_api import config
from kapt_api.config import SETTINGS
from tests.config.conftest import GOOD_SECRET, ROOT

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once


def test_a_key_and_nothing_else_means_the_documented_defaults():
    loaded = config.load(environ={"KAPT_SECRET_KEY": GOOD_SECRET})

    for setting in SETTINGS:
        if setting.env != "KAPT_SECRET_KEY":
            assert loaded[setting.key] == setting.default, setting.env
    assert loaded["SECRET_KEY"] == GOOD_SECRET
    assert loaded["KAPT_ENV"] == "production"


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = "<!-- config-table:start -->\n"
    end = "<!-- config-table:end -->"
    return text[text.index(start) + len(start) : text.index(end)]


def test_the_readme_table_lists_exactly_the_settings():
    table = _readme_table()
    documented = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]

    assert documented == [s.env for s in SETTINGS]
    assert table == config.markdown_table(), "run: python -m kapt_api.config"


def test_python_m_kapt_api_config_prints_the_table(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # kapt_api imported config already
        runpy.run_module("kapt_api.config", run_name="__main__")

    assert capsys.readouterr().out == config.markdown_table()
