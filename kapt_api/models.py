"""Every model, imported once so metadata (and Alembic) sees the whole schema."""

from kapt_api.auth.models import AuditEvent, AuditEventPatient, LoginSession, User, UserRole
from kapt_api.clinics.models import Clinic, OpeningHours, Room, StaffMember, TimeOff, WorkingHours
from kapt_api.health import SchedulerHeartbeat
from kapt_api.idempotency import IdempotencyRecord
from kapt_api.monitoring.models import Alert, MonitoringSession, Reading
from kapt_api.outcomes.models import OutcomeMeasure
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.protocols.models import Protocol, ProtocolVersion
from kapt_api.reminders.models import Reminder, WebhookSubscription
from kapt_api.scheduling.booking.models import (
    Appointment,
    AppointmentStaff,
    ResourceHold,
    StatusChange,
)
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.feeds.models import CalendarFeed, CalendarRevision
from kapt_api.scheduling.links.models import PatientLink
from kapt_api.scheduling.waitlist.models import FreedSlot, WaitlistEntry, WaitlistOffer

__all__ = [
    "Alert",
    "Appointment",
    "AppointmentStaff",
    "AuditEvent",
    "AuditEventPatient",
    "CalendarFeed",
    "CalendarRevision",
    "CareTeamMember",
    "Clinic",
    "Course",
    "FreedSlot",
    "IdempotencyRecord",
    "LoginSession",
    "MonitoringSession",
    "OpeningHours",
    "OutcomeMeasure",
    "Patient",
    "PatientLink",
    "Protocol",
    "ProtocolVersion",
    "Reading",
    "Reminder",
    "ResourceHold",
    "Room",
    "SchedulerHeartbeat",
    "StaffMember",
    "StatusChange",
    "TimeOff",
    "User",
    "UserRole",
    "WaitlistEntry",
    "WaitlistOffer",
    "WebhookSubscription",
    "WorkingHours",
]
