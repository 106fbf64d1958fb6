"""What the packages above scheduling add to a course as its care team reads it.

Outcomes owns the PHQ-9 and GAD-7 trend of a course and sits above scheduling, so it
registers the function that answers it through `supply()` (scheduling never imports
it); until a package does, the course shows the entry as null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapt_api.scheduling.courses.models import Course

EXTRAS = ("measures_trend",)
# Given a course, the entry as JSON-ready data.
CourseExtraSource = Callable[[Course], Any]
_sources: dict[str, CourseExtraSource] = {}


def supply(name: str, source: CourseExtraSource | None) -> None:
    """Register the function that answers a course entry (`measures_trend`); None
    removes it. Called by the package that owns the fact."""
    if name not in EXTRAS:
        raise ValueError(f"unknown course entry {name!r}")
    if source is None:
        _sources.pop(name, None)
    else:
        _sources[name] = source


def supplied(name: str, course: Course) -> Any:
    """The entry for this course from its source, else None."""
    source = _sources.get(name)
    return source(course) if source is not None else None
