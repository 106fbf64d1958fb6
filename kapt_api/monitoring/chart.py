"""A session's blood pressure, heart rate and SpO2 over time as SVG, with the
checklist's threshold bands, drawn by hand with xml.etree (no plotting library).

Each series is a polyline carrying its points as `data-points` ("minutes:value ...",
minutes after the first reading); each threshold band is a rect carrying its
measurement and limits.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

from kapt_api.auth import audit
from kapt_api.monitoring import service
from kapt_api.monitoring.models import MonitoringSession
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import ChecklistTemplate
from kapt_api.protocols.measurements import Measurement

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT, MARGIN = 720, 360, 40
LOW, HIGH = 0.0, 220.0  # one axis fits mmHg, /min and %
SERIES = {
    Measurement.SYSTOLIC_BP: "#c0392b",
    Measurement.DIASTOLIC_BP: "#e67e22",
    Measurement.HEART_RATE: "#2471a3",
    Measurement.SPO2: "#1e8449",
}

ET.register_namespace("", SVG_NS)


def _tag(name: str) -> str:
    return f"{{{SVG_NS}}}{name}"


def svg(*, session: MonitoringSession, by: Caller) -> str:
    """The chart as an SVG document."""
    readings = service.current_readings(session)
    start = session.dose_started_at or session.checked_in_at
    points = {
        m: [(r.measured_at, float(r.values[m.value])) for r in readings if m.value in r.values]
        for m in SERIES
    }
    audit.record("read", "chart", session.id, patient_id=session.patient_id, actor_id=by.user_id)
    return draw(service.template_of(session), points, start=start)


def draw(
    template: ChecklistTemplate,
    points: dict[Measurement, list[tuple[datetime, float]]],
    *,
    start: datetime,
) -> str:
    """The SVG text for these series over `start`..the last point."""
    times = [at for series in points.values() for at, _ in series]
    first = min([start, *times])
    span = max([60.0, *((at - first).total_seconds() / 60 for at in times)])
    root = ET.Element(
        _tag("svg"),
        {"width": str(WIDTH), "height": str(HEIGHT), "viewBox": f"0 0 {WIDTH} {HEIGHT}"},
    )
    ET.SubElement(root, _tag("title")).text = "Vital signs during the session"

    def x(minutes: float) -> float:
        return round(MARGIN + minutes / span * (WIDTH - 2 * MARGIN), 1)

    def y(value: float) -> float:
        clipped = min(max(value, LOW), HIGH)
        return round(HEIGHT - MARGIN - (clipped - LOW) / (HIGH - LOW) * (HEIGHT - 2 * MARGIN), 1)

    _bands(root, template, y)
    _series(root, points, first, x, y)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _series(
    root: ET.Element,
    points: dict[Measurement, list[tuple[datetime, float]]],
    first: datetime,
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> None:
    """A polyline for each charted measurement, its points in minutes after `first`."""
    for measurement, colour in SERIES.items():
        series = sorted(points.get(measurement, []))
        minutes = [((at - first).total_seconds() / 60, value) for at, value in series]
        ET.SubElement(
            root,
            _tag("polyline"),
            {
                "class": "series",
                "data-measurement": measurement.value,
                "data-unit": measurement.info.unit or "",
                "data-points": " ".join(f"{m:g}:{v:g}" for m, v in minutes),
                "points": " ".join(f"{x(m)},{y(v)}" for m, v in minutes),
                "fill": "none",
                "stroke": colour,
                "stroke-width": "2",
            },
        )


def _bands(root: ET.Element, template: ChecklistTemplate, y: Callable[[float], float]) -> None:
    """A translucent band outside each after-dose threshold of the charted measurements."""
    for measurement, colour in SERIES.items():
        for threshold in template.thresholds_for(measurement, pre_dose=False):
            for low, high, edge in (
                (threshold.high, HIGH, "high"),
                (LOW, threshold.low, "low"),
            ):
                if low is None or high is None or low >= high:
                    continue
                top, bottom = y(high), y(low)
                ET.SubElement(
                    root,
                    _tag("rect"),
                    {
                        "class": "threshold",
                        "data-measurement": measurement.value,
                        "data-edge": edge,
                        "data-limit": f"{threshold.high if edge == 'high' else threshold.low:g}",
                        "data-severity": threshold.severity.value,
                        "x": str(MARGIN),
                        "y": str(top),
                        "width": str(WIDTH - 2 * MARGIN),
                        "height": str(round(bottom - top, 1)),
                        "fill": colour,
                        "fill-opacity": "0.08",
                    },
                )
