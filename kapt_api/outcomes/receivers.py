"""Outcomes shows in scheduling's course (which never imports it): the course its care
team reads carries each instrument's trend, as /courses/{id}/measures/trend answers."""

from __future__ import annotations

from typing import Any

from kapt_api.outcomes import service
from kapt_api.outcomes.schemas import TrendOut
from kapt_api.scheduling.courses import extras
from kapt_api.scheduling.courses.models import Course

TRENDS_OUT = TrendOut(many=True)


def _measures_trend(course: Course) -> Any:
    return TRENDS_OUT.dump(service.trends(course=course))


def connect() -> None:
    extras.supply("measures_trend", _measures_trend)
