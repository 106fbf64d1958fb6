"""Recording questionnaires on the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.errors import Forbidden, InvalidInput
from kapt_api.monitoring.models import Alert
from kapt_api.outcomes import service
from kapt_api.scheduling.courses import extras
from tests.monitoring.conftest import ARRIVAL, at


def record(team, course, items, instrument="phq9", **extra):
    return service.record_measure(
        course=course,
        instrument=instrument,
        items=items,
        measured_at=extra.pop("measured_at", ARRIVAL),
        by=team.caller(extra.pop("by", team.therapist)),
        now=at(5),
        **extra,
    )


def test_a_phq9_is_stored_with_its_total_before_a_dose(team, make_course, make_appointment, now):
    course = make_course()
    dose = make_appointment(course)
    measure = record(team, course, [1, 2, 1, 0, 3, 2, 1, 1, 0], appointment_id=dose.id)
    assert (measure.total, measure.appointment_id) == (11, dose.id)
    assert db.session.scalars(select(Alert)).all() == []


def test_item_9_above_0_raises_a_critical_alert_for_the_prescriber(team, make_course, now):
    course = make_course()
    record(team, course, [0] * 8 + [1])
    (alert,) = db.session.scalars(select(Alert)).all()
    assert (alert.kind, alert.severity, alert.course_id) == (
        "self_harm_answer",
        "critical",
        course.id,
    )


def test_answers_that_are_not_a_questionnaire_are_refused_naming_the_field(team, make_course, now):
    course = make_course()
    with pytest.raises(InvalidInput) as refused:
        record(team, course, [1] * 9, instrument="gad7", measured_at=at(60))
    assert set(refused.value.errors) == {"items", "measured_at"}


def test_front_desk_may_not_reach_a_courses_measures(team, make_course, now):
    course = make_course()
    with pytest.raises(Forbidden):
        service.find_course(course_id=course.id, by=team.caller(team.front_desk), action="read")


def test_the_trend_of_each_instrument(team, make_course, now):
    course = make_course()
    record(team, course, [3] * 9, measured_at=at(-60 * 24 * 7))
    record(team, course, [1] * 9)
    record(team, course, [2] * 7, instrument="gad7")
    phq9, gad7 = service.trends(course=course)
    assert (phq9.first, phq9.latest, phq9.change) == (27, 9, -18)
    assert (gad7.first, gad7.latest, gad7.change) == (14, 14, 0)


def test_the_course_is_supplied_its_trend_by_outcomes(team, make_course, now):
    course = make_course()
    record(team, course, [3] * 9, measured_at=at(-60 * 24 * 7))
    record(team, course, [1] * 9)
    phq9, gad7 = extras.supplied("measures_trend", course)
    assert (phq9["instrument"], phq9["first"], phq9["latest"]) == ("phq9", 27, 9)
    assert [p["total"] for p in phq9["points"]] == [27, 9]
    assert (gad7["instrument"], gad7["points"]) == ("gad7", [])
