"""Numbers and flags are JSON's own types, never text read as one (but in a query string)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kapt_api import fields
from kapt_api.patients.schemas import Kilograms
from tests.fields.probe import load, refusal

pytestmark = pytest.mark.once  # schemas and fields alone: one engine is enough


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2.9, 2.5, "3", "70", True, [1], "0x1"])
def test_an_integer_refuses_fractions_strings_and_booleans(value: Any) -> None:
    assert refusal(fields.Integer(), value) == ["Not a valid integer."]


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (3.0, 3), (-2, -2)])
def test_an_integer_takes_json_integers(value: Any, expected: int) -> None:
    assert load(fields.Integer(), value) == expected


@pytest.mark.parametrize("text", [" 5", "+5", "1_0", "\u0665", "5.0", "1e2", "9" * 19, "9" * 5000])
def test_an_integer_in_a_query_string_is_plain_decimal_digits(text: str) -> None:
    assert refusal(fields.Integer(), text, query=True) == ["Not a valid integer."]


def test_an_integer_in_a_query_string_reads_its_digits() -> None:
    assert load(fields.Integer(), "-15", query=True) == -15


@pytest.mark.parametrize("value", ["70", "72.5", True, False])
def test_a_number_refuses_strings_and_booleans(value: Any) -> None:
    assert refusal(fields.Number(), value) == ["Not a valid number."]


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_number_refuses_infinity_and_nan(value: float) -> None:
    assert "not permitted" in refusal(fields.Number(), value)[0]


@pytest.mark.parametrize("value", [68.25, 70.0000001, 0.05])
def test_a_quantity_refuses_more_decimals_than_it_keeps(value: float) -> None:
    assert refusal(fields.Quantity(places=1), value) == ["Give at most 1 decimal place(s)."]


@pytest.mark.parametrize(("value", "kept"), [(68.2, "68.2"), (70, "70.0"), (99.0, "99.0")])
def test_a_quantity_keeps_what_it_was_sent(value: Any, kept: str) -> None:
    assert load(fields.Quantity(places=1), value) == Decimal(kept)


@pytest.mark.parametrize("value", ["72.5", True, 1e300, float("inf")])
def test_kilograms_refuse_what_is_not_a_weight(value: Any) -> None:
    assert refusal(Kilograms(), value)


# --- flags ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, "true", "yes", "false"])
def test_a_flag_in_a_body_is_a_json_boolean(value: Any) -> None:
    assert refusal(fields.Flag(), value) == ["Not a valid boolean."]


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False)])
def test_a_flag_in_a_query_string_is_true_or_false(text: str, expected: bool) -> None:
    assert load(fields.Flag(), text, query=True) is expected


@pytest.mark.parametrize("text", ["1", "yes", "True", "on", ""])
def test_a_flag_in_a_query_string_refuses_other_words(text: str) -> None:
    assert refusal(fields.Flag(), text, query=True) == ["Not a valid boolean."]
