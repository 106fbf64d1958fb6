"""What a patient's reminder says: the protocol's PHI-safe template filled with the
clinic's name and phone, the date, time and place (DOMAIN.md §5.1), never the patient's
name, and a calendar event to attach to emails."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from icalendar.parser import Contentline

from kapt_api.clinics.models import Clinic
from kapt_api.protocols.reminder_text import SMS_LIMIT, ReminderContext
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links.rules import date_text as _date
from kapt_api.scheduling.links.rules import time_text as _time


def context_for(appointment: Appointment, clinic: Clinic) -> ReminderContext:
    """The values a reminder may carry; times in the clinic's zone, where the session is."""
    local = appointment.starts_at.astimezone(ZoneInfo(clinic.time_zone))
    return ReminderContext(
        clinic_name=clinic.name,
        clinic_phone=clinic.phone or "",
        date=_date(local),
        time=_time(local),
        location=clinic.address or clinic.name,
    )


# One text for two appointments when the 1-a-day cap would hold the second back: the
# default wording's words only (clinic, date, time, phone, STOP; DOMAIN.md §5.1-5.2).
JOINT_SMS = "{clinic}: appointments {when}. To change them call {phone}. Reply STOP to opt out."


def joint_text(appointments: list[Appointment], clinic: Clinic) -> str | None:
    """The one text that reminds of both appointments (same clinic), or None when it
    would run past 160 characters: the clinic's name is not shortened, since it is
    what tells the patient who is writing."""
    if not clinic.phone or any(a.clinic_id != clinic.id for a in appointments):
        return None
    zone = ZoneInfo(clinic.time_zone)
    first, second = sorted(a.starts_at.astimezone(zone) for a in appointments)
    if first.date() == second.date():
        when = f"{_date(first)} at {_time(first)} and {_time(second)}"
    else:
        when = f"{_date(first)} at {_time(first)} and {_date(second)} at {_time(second)}"
    text = JOINT_SMS.format(clinic=clinic.name, when=when, phone=clinic.phone)
    return text if len(text) <= SMS_LIMIT else None


def calendar_event(appointment: Appointment, clinic: Clinic, *, domain: str, now: datetime) -> str:
    """A one-event iCalendar file: stable UID per appointment, so a moved appointment's
    new reminder updates the event already in the patient's calendar."""
    event = Event()
    event.add("uid", f"appointment-{appointment.id}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", f"Appointment: {clinic.name}")
    event.add("location", clinic.address or clinic.name)
    lines = "".join(f"{_folded(line)}\r\n" for line in event.content_lines() if line)
    return f"{_CALENDAR_OPENS}{lines}{_CALENDAR_ENDS}"


# RFC 5545 folds a line of 75 octets or more; icalendar folds every line character by
# character, a third of an event's cost (every emailed reminder carries one), though
# few lines are that long. A shorter line is left as it is, as icalendar would leave it.
FOLD_AT = 75


def _folded(line: Contentline) -> str:
    return line if len(line.encode()) < FOLD_AT else line.to_ical().decode()


def _calendar_around() -> tuple[str, str]:
    """The calendar's own lines, before and after its one event: the same in every file,
    written once (icalendar writes a component's events after its properties)."""
    calendar = Calendar()
    calendar.add("prodid", "-//kapt-api//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    opens, ends, _ = calendar.to_ical().decode().rpartition("END:VCALENDAR\r\n")
    return opens, ends


_CALENDAR_OPENS, _CALENDAR_ENDS = _calendar_around()
