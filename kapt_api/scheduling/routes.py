"""The scheduling API as front ends know it: two tags of the OpenAPI document, each
gathering the routes of the sub-packages that serve it, in the order the document lists
them (courses, then appointments, then the waitlist; day schedules, then calendar
feeds, then slot search, plans and batch booking, then utilisation)."""

from __future__ import annotations

from kapt_api.openapi.pages import Blueprint
from kapt_api.scheduling.availability import routes as availability
from kapt_api.scheduling.booking import routes as booking
from kapt_api.scheduling.courses import routes as courses
from kapt_api.scheduling.days import routes as days
from kapt_api.scheduling.feeds import routes as feeds
from kapt_api.scheduling.utilisation import routes as utilisation
from kapt_api.scheduling.waitlist import routes as waitlist

courses_and_appointments = Blueprint(
    "scheduling", __name__, url_prefix="/api/v1", description="Courses and appointments"
)
for part in (courses, booking, waitlist):
    courses_and_appointments.register_blueprint(part.bp)

calendar = Blueprint(
    "calendar",
    __name__,
    url_prefix="/api/v1",
    description="Day schedules, calendar feeds, slot search, course plans and batch booking, "
    "chair utilisation",
)
for part in (days, feeds, availability, utilisation):
    calendar.register_blueprint(part.bp)
