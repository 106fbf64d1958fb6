"""The day schedule's wire encoding: the bytes the application's own JSON encoder
writes, whichever encoder wrote them, so a day's ETag is the same on every worker."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapt_api.scheduling.days.routes import _compact

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
ANSWERS = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _applications(app: Any, answer: Any) -> bytes:
    return str(app.json.dumps(answer, separators=(",", ":"))).encode()


@given(answer=ANSWERS)
# The session's app is the same for every example; the per-test transaction is unused.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_day_is_encoded_as_the_application_encodes_it(app, answer):
    with app.app_context():
        assert _compact(answer) == _applications(app, answer)


def test_names_the_fast_encoder_writes_otherwise_are_left_to_the_application(app):
    for name in ("Zoë Núñez", "del\x7f", "lone \ud800 surrogate", "tab\tand\x01", "plain"):
        answer = {"patient_name": name, "hours": 23.0}
        with app.app_context():
            assert _compact(answer) == _applications(app, answer)
