"""The demo's courses, one story per patient, placed relative to the day the demo is
loaded on (in the clinic's zone, America/New_York), on each of the four built-in
protocols:

- Juniper Quillfeather, IM KAP, mid-dosing: two doses and their integrations done,
  dose 3 *in progress now* (blood pressure raised at the 40-minute check, an open
  alert), its integration booked for two days on;
- Rowan Applewood, sublingual KAP, just enrolled: intake done, preparation 1 today,
  preparation 2 still to book (the README tour books it);
- Sage Thistledown, sublingual KAP, in integration: three doses done, the last two
  days ago, its integration session today, dose 4 booked;
- Emery Fernwhistle, esketamine (REMS), induction: two doses done, dose 3 today
  (before or after now, never under way beside the featured one), dose 4 booked;
- Quinn Marigold, IV racemic series, finished: six infusions, a follow-up and a
  one-month check-in today, with a PHQ-9 and GAD-7 trend that improves; one
  heart-rate alert, acknowledged;
- Wren Hollowbrook, IM KAP, enrolled two days ago: intake today.

The featured dose starts 45 minutes before "now" (to 5 minutes), so its 40-minute
check is done; it cannot start before the clinic opens (07:00) or after 18:30 (it
must end by 21:00). Loaded before 07:45, it is last evening's 18:30 dose, finished,
its alert still open; loaded after 19:15, it is today's 18:30 dose, under way until
21:00 (its patient discharged from 20:35), then finished.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kapt_api.demo.people import CLINIC_ZONE, CLOSES, OPENS
from kapt_api.demo.plans import AdHoc, Measure, Story, Visit
from kapt_api.demo.vitals import Vitals
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.measurements import Measurement as M

ZONE = ZoneInfo(CLINIC_ZONE)
DAY = timedelta(days=1)
LIVE_AFTER = timedelta(minutes=45)  # the featured dose is this far along
LAST_DOSE_START = time(18, 30)  # a 150-minute dose ends by 21:00
SHIFT_CHANGE = time(12, 30)  # a dose starting before it is the early shift's
ESKETAMINE_LAST_START = time(13)  # the prescriber's shift ends at 15:30
PREP, DOSE, INTEGRATION = SessionKind.PREPARATION, SessionKind.DOSING, SessionKind.INTEGRATION
INTAKE, FOLLOW_UP = SessionKind.INTAKE, SessionKind.FOLLOW_UP


def local_day(instant: datetime) -> date:
    return instant.astimezone(ZONE).date()


def at(day: date, wall: time) -> datetime:
    """The instant the clinic's clocks show `wall` on `day` (07:00-21:00 always exist)."""
    return datetime.combine(day, wall, tzinfo=ZONE).astimezone(UTC)


def _floor(instant: datetime, minutes: int) -> datetime:
    rounded = instant.replace(second=0, microsecond=0)
    return rounded - timedelta(minutes=rounded.minute % minutes)


def _ceil(instant: datetime, minutes: int) -> datetime:
    floored = _floor(instant, minutes)
    return floored if floored == instant else floored + timedelta(minutes=minutes)


def featured_dose_start(now: datetime) -> datetime:
    """When the dose the demo features started (see the module docstring)."""
    today = local_day(now)
    start = _floor(now - LIVE_AFTER, 5)
    if start >= at(today, OPENS):
        return min(start, at(today, LAST_DOSE_START))
    return at(today - DAY, LAST_DOSE_START)


def esketamine_window(now: datetime) -> tuple[datetime, datetime]:
    """Where today's esketamine dose may start: wholly after now when it can, else
    wholly before, so that only the featured dose is under way."""
    today = local_day(now)
    last = at(today, ESKETAMINE_LAST_START)
    if now < at(today, OPENS):
        return at(today, time(11)), last
    after = _ceil(now + timedelta(minutes=15), 15)
    if after <= last:
        return after, last
    return at(today, OPENS), min(_floor(now - timedelta(minutes=150), 15), last)


def _today(kind: SessionKind, day: date, wall: time, **more: Any) -> Visit:
    """A session on `day` at `wall` or at the first free time after it that day."""
    prefer = at(day, wall)
    return Visit(kind, prefer, within=at(day, CLOSES) - prefer, **more)


def juniper(now: datetime) -> Story:
    start = featured_dose_start(now)
    day, wall = local_day(start), start.astimezone(ZONE).time()
    early = wall < SHIFT_CHANGE
    nurse, therapist = ("okafor", "lindqvist") if early else ("baptiste", "castellanos")
    usual = time(9) if early else time(14)
    raised = Vitals(
        systolic=128,
        diastolic=82,
        set_by_hand={("bp_40_min", 40): {M.SYSTOLIC_BP: 186, M.DIASTOLIC_BP: 104}},
    )
    recheck = AdHoc(55, {M.SYSTOLIC_BP: 168, M.DIASTOLIC_BP: 96}, "Blood pressure rechecked")
    return Story(
        patient="juniper",
        template="im-kap",
        team={"prescriber_id": "reyes", "nurse_id": nurse, "therapist_id": therapist},
        enrolled_at=at(day - 33 * DAY, time(10)),
        booked_at=at(day - 33 * DAY, time(10, 30)),
        visits=[
            Visit(INTAKE, at(day - 30 * DAY, time(10)), measures=(Measure("phq9", 17),)),
            Visit(PREP, at(day - 24 * DAY, usual), notes="Intentions and safety plan."),
            Visit(PREP, at(day - 20 * DAY, usual), notes="Set and setting; music chosen."),
            Visit(DOSE, at(day - 14 * DAY, wall), measures=(Measure("phq9", 16),)),
            Visit(INTEGRATION, at(day - 12 * DAY, usual)),
            Visit(DOSE, at(day - 7 * DAY, wall), measures=(Measure("phq9", 14),)),
            Visit(INTEGRATION, at(day - 5 * DAY, usual)),
            Visit(DOSE, start, exact=True, vitals=raised, ad_hoc=(recheck,), room="Dosing Suite A"),
            Visit(INTEGRATION, at(day + 2 * DAY, usual)),
        ],
    )


def rowan(now: datetime) -> Story:
    today = local_day(now)
    return Story(
        patient="rowan",
        template="sublingual-kap",
        team={"prescriber_id": "reyes", "therapist_id": "lindqvist"},
        enrolled_at=at(today - 6 * DAY, time(15)),
        booked_at=at(today - 6 * DAY, time(15, 30)),
        visits=[
            Visit(INTAKE, at(today - 4 * DAY, time(8)), measures=(Measure("phq9", 14),)),
            _today(
                PREP,
                today,
                time(8),
                notes="Intentions; what the lozenge feels like.",
                room="Therapy Room 1",
            ),
        ],
    )


def sage(now: datetime) -> Story:
    today = local_day(now)
    week = [today - 17 * DAY, today - 10 * DAY, today - 2 * DAY]
    doses = [
        Visit(DOSE, at(d, time(13)), measures=(Measure("phq9", s),))
        for d, s in zip(week, (15, 13, 11), strict=True)
    ]
    return Story(
        patient="sage",
        template="sublingual-kap",
        team={"prescriber_id": "reyes", "therapist_id": "castellanos"},
        enrolled_at=at(today - 31 * DAY, time(9)),
        booked_at=at(today - 31 * DAY, time(9, 30)),
        visits=[
            Visit(INTAKE, at(today - 29 * DAY, time(8)), measures=(Measure("phq9", 16),)),
            Visit(PREP, at(today - 26 * DAY, time(13))),
            Visit(PREP, at(today - 23 * DAY, time(13))),
            *doses,
            Visit(INTEGRATION, at(week[0] + 2 * DAY, time(13))),
            Visit(INTEGRATION, at(week[1] + 2 * DAY, time(13))),
            _today(
                INTEGRATION,
                today,
                time(14),
                notes="Integrating the third session.",
                room="Therapy Room 2",
            ),
            Visit(DOSE, at(today + 5 * DAY, time(13))),
        ],
    )


def emery(now: datetime) -> Story:
    today = local_day(now)
    opens, last = esketamine_window(now)
    steady = Vitals(systolic=126, diastolic=80, rise=18)
    return Story(
        patient="emery",
        template="esketamine-rems-induction",
        team={"prescriber_id": "reyes", "nurse_id": "okafor"},
        enrolled_at=at(today - 15 * DAY, time(11)),
        booked_at=at(today - 15 * DAY, time(11, 30)),
        visits=[
            Visit(INTAKE, at(today - 12 * DAY, time(8)), measures=(Measure("phq9", 21),)),
            Visit(DOSE, at(today - 8 * DAY, time(8)), vitals=steady),
            Visit(DOSE, at(today - 4 * DAY, time(9)), vitals=steady),
            Visit(
                DOSE,
                opens,
                within=last - opens + timedelta(minutes=5),
                vitals=steady,
                room="Dosing Suite B",
            ),
            Visit(DOSE, at(today + 4 * DAY, time(9))),
        ],
    )


def _infusions(today: date) -> list[Visit]:
    """Quinn's six infusions, the third with a heart-rate alert the prescriber acknowledged."""
    days = [today - n * DAY for n in (38, 35, 31, 28, 24, 21)]
    # PHQ-9 and GAD-7 before doses 2, 4 and 6, between the intake's and the follow-up's.
    scores = {2: (16, 13), 4: (12, 10), 6: (9, 7)}
    doses = [
        Visit(
            DOSE,
            at(day, time(15)),
            measures=_both(*scores[number]) if number in scores else (),
        )
        for number, day in enumerate(days, start=1)
    ]
    # Dose 3: the heart rate above 120 after the infusion, acknowledged by the prescriber.
    doses[2] = replace(
        doses[2],
        vitals=Vitals(set_by_hand={("after_infusion", 55): {M.HEART_RATE: 124}}),
        acknowledge="Heart rate back to 90 at the next check; no action needed.",
    )
    return doses


def quinn(now: datetime) -> Story:
    today = local_day(now)
    return Story(
        patient="quinn",
        template="iv-racemic-series",
        team={"prescriber_id": "reyes", "nurse_id": "baptiste"},
        enrolled_at=at(today - 45 * DAY, time(10)),
        booked_at=at(today - 45 * DAY, time(10, 30)),
        visits=[
            Visit(INTAKE, at(today - 43 * DAY, time(9)), measures=_both(19, 15)),
            *_infusions(today),
            Visit(
                FOLLOW_UP,
                at(today - 14 * DAY, time(11)),
                measures=_both(6, 5),
                notes="Mood steady since the last infusion.",
            ),
            _today(
                FOLLOW_UP,
                today,
                time(17),
                measures=_both(5, 4),
                notes="One month on: sleeping well, back at work.",
            ),
        ],
    )


def _both(phq9: int, gad7: int) -> tuple[Measure, Measure]:
    return Measure("phq9", phq9), Measure("gad7", gad7)


def wren(now: datetime) -> Story:
    today = local_day(now)
    return Story(
        patient="wren",
        template="im-kap",
        team={"prescriber_id": "reyes", "nurse_id": "okafor", "therapist_id": "lindqvist"},
        enrolled_at=at(today - 2 * DAY, time(16)),
        booked_at=at(today - 2 * DAY, time(16, 30)),
        visits=[_today(INTAKE, today, time(9), room="Therapy Room 2")],
    )


def stories(now: datetime) -> list[Story]:
    return [quinn(now), sage(now), juniper(now), emery(now), rowan(now), wren(now)]
