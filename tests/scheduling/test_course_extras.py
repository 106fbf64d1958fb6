"""The entries packages above scheduling add to a course: registered by name, null
until supplied."""

from __future__ import annotations

import pytest

from kapt_api.scheduling import course_extras


@pytest.fixture
def restored():
    saved = dict(course_extras._sources)
    yield
    course_extras._sources.clear()
    course_extras._sources.update(saved)


def test_an_entry_reads_null_until_supplied_and_again_once_removed(restored, course):
    course_extras.supply("measures_trend", None)
    assert course_extras.supplied("measures_trend", course) is None
    course_extras.supply("measures_trend", lambda c: [str(c.id)])
    assert course_extras.supplied("measures_trend", course) == [str(course.id)]
    course_extras.supply("measures_trend", None)
    assert course_extras.supplied("measures_trend", course) is None


def test_only_known_entries_are_supplied(restored):
    with pytest.raises(ValueError, match="unknown course entry"):
        course_extras.supply("vitals", lambda c: None)
