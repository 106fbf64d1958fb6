"""The day schedule's wire encoding: the bytes the application's own JSON encoder
writes, whichever encoder wrote them, so a day's ETag is the same on every worker."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapt_api.scheduling.days.routes import _compact

# A day's only float is its length in hours (23 to 25). The two encoders write floats
# alike from 0.0001 up to 1e16 and differ outside (1e-05 against 0.00001; an infinity
# is `Infinity` against null), so floats are drawn from that range.
HOURS_LIKE = st.floats(min_value=-1e16, max_value=1e16).filter(lambda x: abs(x) >= 1e-4 or not x)
JSON_LEAVES = st.none() | st.booleans() | st.integers() | HOURS_LIKE | st.text()
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
