"""PHQ-9 and GAD-7 over the wire: the item answers in, each total and the trend out."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Choice, Integer, every_field_sent
from kapt_api.outcomes.rules import INSTRUMENTS, ITEM_MAX, Instrument

INSTRUMENT_NAMES = [i.value for i in Instrument]
SEVERITY_BANDS = sorted({name for info in INSTRUMENTS.values() for _lowest, name in info.bands})


class MeasureIn(ma.Schema):
    instrument = Choice(INSTRUMENT_NAMES, required=True)
    # Each answer is one of the four levels (DOMAIN.md §4.3): 2.9 is no answer, not a 2.
    items = ma.fields.List(
        Integer(
            required=True,
            validate=ma.validate.Range(
                min=0, max=ITEM_MAX, error=f"Answer each item with a whole number 0-{ITEM_MAX}."
            ),
        ),
        required=True,
        validate=ma.validate.Length(min=1, max=9),
        metadata={"description": "Each item 0-3, in questionnaire order (PHQ-9: 9, GAD-7: 7)"},
    )
    measured_at = AwareDateTime(required=True)
    appointment_id = ma.fields.UUID(metadata={"description": "The dosing session it precedes"})


class MeasureQuery(ma.Schema):
    instrument = Choice(INSTRUMENT_NAMES)


@every_field_sent
class MeasureOut(ma.Schema):
    id = ma.fields.UUID()
    course_id = ma.fields.UUID()
    appointment_id = ma.fields.UUID(allow_none=True)
    instrument = ma.fields.String(validate=ma.validate.OneOf(INSTRUMENT_NAMES))
    items = ma.fields.List(ma.fields.Integer())
    total = ma.fields.Integer()
    loinc = ma.fields.Function(
        lambda m: INSTRUMENTS[Instrument(m.instrument)].loinc_total,
        metadata={"type": "string", "description": "The LOINC code of the total score"},
    )
    measured_at = ma.fields.AwareDateTime()
    recorded_by = ma.fields.UUID()
    recorded_at = ma.fields.AwareDateTime()


@every_field_sent
class ScoreOut(ma.Schema):
    measured_at = ma.fields.AwareDateTime()
    total = ma.fields.Integer()


@every_field_sent
class TrendOut(ma.Schema):
    instrument = ma.fields.Enum(Instrument, by_value=True)
    first = ma.fields.Integer(allow_none=True)
    latest = ma.fields.Integer(allow_none=True)
    change = ma.fields.Integer(allow_none=True)
    percent_change = ma.fields.Float(allow_none=True)
    severity = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(SEVERITY_BANDS),
        metadata={"description": "The conventional severity band of the latest total"},
    )
    points = ma.fields.List(ma.fields.Nested(ScoreOut))
