"""The entries packages above scheduling add to a course: registered by name, null
until supplied."""

from __future__ import annotations

import pytest

from kapt_api.scheduling.courses import extras


@pytest.fixture
def restored():
    saved = dict(extras._sources)
    yield
    extras._sources.clear()
    extras._sources.update(saved)


def test_an_entry_reads_null_until_supplied_and_again_once_removed(restored, course):
    extras.supply("measures_trend", None)
    assert extras.supplied("measures_trend", course) is None
    extras.supply("measures_trend", lambda c: [str(c.id)])
    assert extras.supplied("measures_trend", course) == [str(course.id)]
    extras.supply("measures_trend", None)
    assert extras.supplied("measures_trend", course) is None


def test_only_known_entries_are_supplied(restored):
    with pytest.raises(ValueError, match="unknown course entry"):
        extras.supply("vitals", lambda c: None)
