"""Text fields refuse what the database could not keep exactly, and keep the rest as sent."""

from __future__ import annotations

from typing import Any

import pytest

from kapt_api import fields
from tests.fields.probe import load, refusal

pytestmark = pytest.mark.once  # schemas and fields alone: one engine is enough


@pytest.mark.parametrize("value", ["a\ud800b", "\udfff", "\ud83d", "x\ude00"])
def test_text_refuses_a_lone_surrogate(value: str) -> None:
    assert refusal(fields.Text(), value) == [
        "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
    ]


@pytest.mark.parametrize("value", ["nul\x00", "bell\x07", "del\x7f", "c1\x85"])
def test_text_refuses_control_characters(value: str) -> None:
    assert refusal(fields.Text(), value) == ["Must not contain control characters."]


@pytest.mark.parametrize(
    "value", ["caf\u00e9", "\U0001f600 smile", "tab\there", "\ufffe\uffff\ufdd0", "\u200d"]
)
def test_text_keeps_whole_characters_and_noncharacters(value: str) -> None:
    assert load(fields.Text(strip=False), value) == value


def test_a_password_is_kept_exactly_but_must_be_whole_characters() -> None:
    password = fields.Password(min_length=3, max_length=10)

    assert load(password, "  \tspace ") == "  \tspace "
    assert refusal(password, "ab\ud800c") == [
        "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
    ]
    assert refusal(password, "ab") == ["Use between 3 and 10 characters."]


@pytest.mark.parametrize("value", [" dosing", "Dosing", "dosing ", 1, ["dosing"]])
def test_a_choice_is_exact(value: Any) -> None:
    assert refusal(fields.Choice(["dosing", "therapy"]), value) == [
        "Must be one of: dosing, therapy."
    ]
