"""Does a course's sequencing make sense? Each case breaks one thing and expects the field
named (sequencing_rules.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from kapt_api.protocols.definition import HourWindow, Phase, Sequencing, SessionKind
from kapt_api.protocols.sequencing_rules import phase_problems
from tests.protocols.conftest import ESKETAMINE, IM_KAP
from tests.protocols.shapes import problems, with_sequencing

KAP = IM_KAP.definition
ESK = ESKETAMINE.definition


def test_zero_doses_is_refused():
    found = problems(with_sequencing(KAP, dose_count=0, phases=()))
    assert found == {"sequencing.dose_count": ["A course needs at least one dose."]}


def test_an_integration_window_ending_before_it_starts_is_refused():
    found = problems(with_sequencing(KAP, integration_window_hours=HourWindow(72, 24)))
    assert list(found) == ["sequencing.integration_window_hours.end"]


def test_an_empty_integration_window_is_refused():
    found = problems(with_sequencing(KAP, integration_window_hours=HourWindow(24, 24)))
    assert "sequencing.integration_window_hours.end" in found


def test_required_integration_needs_a_window():
    found = problems(with_sequencing(KAP, integration_window_hours=None))
    assert "sequencing.integration_window_hours" in found


def test_required_integration_needs_an_integration_session_type():
    no_integration = replace(KAP, session_types=KAP.session_types[:3])
    no_integration = replace(
        no_integration,
        reminder_policy=replace(KAP.reminder_policy, rules=KAP.reminder_policy.rules[:3]),
    )
    assert list(problems(no_integration)) == ["sequencing.integration_required"]


def test_waiting_for_integration_needs_integration_required():
    found = problems(
        with_sequencing(KAP, integration_required=False, next_dose_requires_integration_done=True)
    )
    assert list(found) == ["sequencing.next_dose_requires_integration_done"]


def test_required_preparation_needs_a_preparation_session_type():
    sessions = tuple(s for s in KAP.session_types if s.kind is not SessionKind.PREPARATION)
    rules = tuple(
        r for r in KAP.reminder_policy.rules if r.session_kind is not SessionKind.PREPARATION
    )
    no_preparation = replace(
        KAP, session_types=sessions, reminder_policy=replace(KAP.reminder_policy, rules=rules)
    )
    assert list(problems(no_preparation)) == ["sequencing.preparation_sessions_required"]
    assert problems(with_sequencing(no_preparation, preparation_sessions_required=0)) == {}


def test_a_phase_longer_than_the_course_is_named():
    found = problems(
        with_sequencing(
            KAP,
            dose_count=6,
            phases=(Phase("Induction", 1, 2, 2), Phase("Then weekly", 3, 6, 1)),
        )
    )
    assert list(found) == ["sequencing.phases.1.last_week"]
    assert "8 doses" in found["sequencing.phases.1.last_week"][0]


def test_phases_that_plan_too_few_doses_are_refused():
    found = problems(with_sequencing(KAP, phases=(Phase("Weekly", 1, 4, 1),)))
    assert list(found) == ["sequencing.phases"]


def test_phases_run_back_to_back_from_week_one():
    gap = with_sequencing(KAP, phases=(Phase("A", 1, 2, 1), Phase("B", 4, 7, 1)))
    assert list(problems(gap)) == ["sequencing.phases.1.first_week"]
    late_start = with_sequencing(KAP, phases=(Phase("A", 2, 7, 1),))
    assert "sequencing.phases.0.first_week" in problems(late_start)


def test_a_phase_ending_before_it_starts_is_refused():
    found = problems(with_sequencing(KAP, phases=(Phase("A", 1, 6, 1), Phase("B", 7, 6, 1))))
    assert "sequencing.phases.1.last_week" in found


def test_a_phase_faster_than_the_weekly_limit_is_refused():
    found = problems(
        with_sequencing(KAP, dose_count=6, phases=(Phase("Fast", 1, 2, 3),), max_doses_per_7_days=2)
    )
    assert list(found) == ["sequencing.phases.0.doses_per_period"]


def test_a_phase_faster_than_the_minimum_spacing_is_refused():
    found = problems(
        with_sequencing(
            KAP,
            phases=(Phase("Twice weekly", 1, 3, 2),),
            min_hours_between_doses=96,
        )
    )
    assert list(found) == ["sequencing.phases.0.doses_per_period"]


def test_a_phase_must_hold_whole_periods():
    found = problems(
        with_sequencing(KAP, dose_count=2, phases=(Phase("Fortnightly", 1, 3, 1, period_weeks=2),))
    )
    assert "sequencing.phases.0.last_week" in found


def test_a_fortnightly_phase_counts_its_doses():
    phase = Phase("Fortnightly", 1, 12, 1, period_weeks=2)
    assert phase.dose_count == 6
    assert problems(with_sequencing(KAP, phases=(phase,))) == {}


@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(1, 2)), min_size=1, max_size=5),
    st.integers(-2, 2),
)
def test_phases_plan_exactly_the_course(shape, difference):
    phases, week = [], 1
    for weeks, per_week in shape:
        phases.append(Phase("p", week, week + weeks - 1, per_week))
        week += weeks
    planned = sum(p.dose_count for p in phases)
    sequencing = replace(
        KAP.sequencing,
        dose_count=max(planned + difference, 1),
        phases=tuple(phases),
        min_hours_between_doses=24,
        max_doses_per_7_days=2,
    )
    paths = [p.path for p in phase_problems(sequencing)]
    if sequencing.dose_count == planned:
        assert paths == []
    elif sequencing.dose_count < planned:
        assert len(paths) == 1 and paths[0].endswith(".last_week")
    else:
        assert paths == ["sequencing.phases"]


def test_the_phase_of_each_dose():
    sequencing = ESK.sequencing
    names = [sequencing.phase_of_dose(n).name for n in range(1, 13)]
    assert names == ["Induction, twice weekly"] * 8 + ["Maintenance, weekly"] * 4
    assert sequencing.phase_of_dose(13).name == "Maintenance, weekly or every 2 weeks"
    assert sequencing.phase_of_dose(40) is sequencing.maintenance


def test_only_the_last_phase_may_be_open_ended():
    open_first = Sequencing(
        preparation_sessions_required=0,
        dose_count=4,
        phases=(Phase("Open", 1, None, 1), Phase("Weekly", 2, 5, 1)),
        min_hours_between_doses=24,
        max_doses_per_7_days=2,
        integration_required=False,
        integration_window_hours=None,
        next_dose_requires_integration_done=False,
    )
    found = {p.path: p.message for p in phase_problems(open_first)}
    assert "Only the last phase may be open-ended" in found["sequencing.phases.0.last_week"]
    open_last = replace(open_first, phases=(Phase("Weekly", 1, 4, 1), Phase("Open", 5, None, 1)))
    assert phase_problems(open_last) == []
    too_often = replace(open_last, phases=(Phase("Weekly", 1, 4, 1), Phase("Open", 5, None, 3)))
    assert [p.path for p in phase_problems(too_often)] == ["sequencing.phases.1.doses_per_period"]
