"""A reading is filed under a timepoint only inside that timepoint's tolerance; outside
it the reading is stored unscheduled, still raises its alerts, and the timepoint stays
due for the checklist, the discharge gate and the REMS form alike."""

from __future__ import annotations

import pytest

from kapt_api.errors import RuleRefused
from kapt_api.monitoring import discharge as discharging
from kapt_api.monitoring import rems, service
from kapt_api.monitoring.rules import TimepointState
from tests.monitoring.conftest import at, vitals
from tests.monitoring.test_routes import as_, base, post_reading  # noqa: F401 - fixture
from tests.monitoring.test_service import (
    CONFIRMED,
    administer,
    raised,  # noqa: F401 - fixture
    record,
    start,
)


def states(session, now):
    found = service.checklist(session=session, now=now).occurrences
    return {(o.timepoint.key, o.slot_minutes): o.state for o in found}


def test_a_reading_at_minute_0_is_not_the_40_minute_check_but_still_alerts(
    team,
    session,
    raised,  # noqa: F811 - the fixture
):
    record(team, session, minutes=2, timepoint="baseline")
    start(team, session, minutes=10)

    early = record(team, session, minutes=10, timepoint="bp_40_min", systolic=190, moaa_s=5)

    assert (early.timepoint, early.slot_minutes) == (None, None)
    assert states(session, at(45))[("bp_40_min", 40)] is TimepointState.DUE
    assert [alert.measurement for alert, _ in raised] == ["systolic_bp"]
    with pytest.raises(RuleRefused) as refused:
        discharging.sign_discharge(
            session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(140)
        )
    missing = [v.details for v in refused.value.violations if v.rule == "timepoint_missing"]
    assert {"timepoint": "bp_40_min", "slot_minutes": 40} in missing


def test_inside_the_tolerance_the_reading_fills_its_timepoint(team, session):
    record(team, session, minutes=2, timepoint="baseline")
    start(team, session, minutes=10)
    on_time = record(team, session, minutes=10 + 47, timepoint="bp_40_min", moaa_s=5)
    assert (on_time.timepoint, on_time.slot_minutes) == ("bp_40_min", 40)
    assert states(session, at(60))[("bp_40_min", 40)] is TimepointState.DONE


def test_a_baseline_taken_after_the_dose_started_is_unscheduled(team, session):
    start(team, session, minutes=10)
    late = record(team, session, minutes=12, timepoint="baseline")
    assert late.timepoint is None
    assert states(session, at(13))[("baseline", None)] is TimepointState.OVERDUE


def test_the_rems_form_reads_the_same_filing_as_the_checklist(team, rems_session):
    nurse = team.caller(team.nurse)
    record(team, rems_session, minutes=2, timepoint="baseline", systolic=130)
    start(team, rems_session, minutes=8)
    administer(team, rems_session)  # the first device at minute 10
    record(team, rems_session, minutes=12, timepoint="bp_40_min", moaa_s=5, dissociation=3)
    form = rems.form(session=rems_session, by=nurse)
    assert form["bp_40_minutes"] is None and "bp_40_minutes" in form["missing"]
    record(
        team,
        rems_session,
        minutes=48,
        timepoint="bp_40_min",
        systolic=150,
        moaa_s=5,
        dissociation=3,
    )
    assert rems.form(session=rems_session, by=nurse)["bp_40_minutes"].systolic == 150


def test_the_api_answers_an_unscheduled_reading_with_no_timepoint(client, team, session, as_):  # noqa: F811
    nurse = as_(team.nurse)
    post_reading(client, session, nurse, 2, timepoint="baseline")
    start(team, session, minutes=10)
    answer = post_reading(
        client, session, nurse, 11, timepoint="bp_40_min", values=vitals(moaa_s=5)
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["timepoint"] is None
    shown = client.get(base(session), headers=nurse).get_json()
    found = {(t["timepoint"], t["slot_minutes"]): t["state"] for t in shown["timepoints"]}
    assert found[("bp_40_min", 40)] == "due"
