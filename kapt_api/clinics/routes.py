"""Clinics, rooms and staff endpoints.

Everyone reads the places and people of their own clinic (admins: every clinic);
another clinic's objects answer 404. Only admins create and change them.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, requires
from kapt_api.auth.models import Role
from kapt_api.clinics import service
from kapt_api.clinics.models import Clinic, Room, StaffMember, TimeOff
from kapt_api.clinics.schemas import (
    ClinicIn,
    ClinicOut,
    ClinicPatch,
    RoomIn,
    RoomOut,
    RoomPatch,
    RoomQuery,
    StaffIn,
    StaffOut,
    StaffPatch,
    StaffQuery,
    TimeOffIn,
    TimeOffOut,
    TimeOffQuery,
    WorkingWeekIn,
    WorkingWeekOut,
)
from kapt_api.db import db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import QueryPage, documents
from kapt_api.openapi.pages import Blueprint

bp = Blueprint("clinics", __name__, url_prefix="/api/v1", description="Clinics, rooms and staff")

Created = tuple[Any, dict[str, str]]
CLINIC_PATCH = ClinicPatch(partial=True)
ROOM_PATCH = RoomPatch(partial=True)
STAFF_PATCH = StaffPatch(partial=True)


def _created(obj: Any, endpoint: str, **ids: Any) -> Created:
    db.session.commit()
    return obj, {"Location": url_for(endpoint, **ids)}


@bp.route("/clinics")
class Clinics(MethodView):
    @bp.response(200, ClinicOut(many=True))
    @bp.paginate(QueryPage)
    @authenticated
    def get(self) -> Any:
        """The clinics the caller may see: every clinic for admins, else their own."""
        return service.clinics_for(by=current_user())

    @idempotent
    @bp.etag
    @bp.arguments(ClinicIn)
    @bp.response(201, ClinicOut)
    @requires(Role.ADMIN)
    def post(self, data: dict[str, Any]) -> Created:
        """Open a clinic: name, IANA time zone, phone, address and weekly opening hours."""
        clinic = service.create_clinic(data=data, by=current_user())
        return _created(clinic, "clinics.ClinicById", clinic_id=clinic.id)


@bp.route("/clinics/<uuid:clinic_id>")
class ClinicById(MethodView):
    @bp.etag
    @bp.response(200, ClinicOut)
    @authenticated
    def get(self, clinic_id: uuid.UUID) -> Clinic:
        """One clinic with its opening hours (local time)."""
        return service.find_clinic(clinic_id=clinic_id, by=current_user())

    @bp.etag
    @bp.arguments(CLINIC_PATCH)
    @bp.response(200, ClinicOut)
    @requires(Role.ADMIN)
    def patch(self, changes: dict[str, Any], clinic_id: uuid.UUID) -> Clinic:
        """Change a clinic (send If-Match); opening hours, when sent, replace the whole week."""
        clinic = service.find_clinic(clinic_id=clinic_id, by=current_user())
        bp.check_etag(clinic, ClinicOut)
        clinic = service.update_clinic(clinic=clinic, changes=changes, by=current_user())
        db.session.commit()
        return clinic


@bp.route("/clinics/<uuid:clinic_id>/rooms")
class ClinicRooms(MethodView):
    @bp.arguments(RoomQuery, location="query")
    @bp.response(200, RoomOut(many=True))
    @bp.paginate(QueryPage)
    @authenticated
    def get(self, query: dict[str, Any], clinic_id: uuid.UUID) -> Any:
        """A clinic's rooms, optionally of one kind or only (in)active ones."""
        clinic = service.find_clinic(clinic_id=clinic_id, by=current_user())
        return service.rooms_of(clinic=clinic, **query)

    @idempotent
    @bp.etag
    @bp.arguments(RoomIn)
    @bp.response(201, RoomOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def post(self, data: dict[str, Any], clinic_id: uuid.UUID) -> Created:
        """Add a room (dosing, therapy or telehealth); its name must be new in the clinic."""
        clinic = service.find_clinic(clinic_id=clinic_id, by=current_user())
        room = service.create_room(clinic=clinic, data=data, by=current_user())
        return _created(room, "clinics.RoomById", room_id=room.id)


@bp.route("/rooms/<uuid:room_id>")
class RoomById(MethodView):
    @bp.etag
    @bp.response(200, RoomOut)
    @authenticated
    def get(self, room_id: uuid.UUID) -> Room:
        """One room."""
        return service.find_room(room_id=room_id, by=current_user())

    @bp.etag
    @bp.arguments(ROOM_PATCH)
    @bp.response(200, RoomOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def patch(self, changes: dict[str, Any], room_id: uuid.UUID) -> Room:
        """Rename a room, change its kind or take it out of use; send If-Match."""
        room = service.find_room(room_id=room_id, by=current_user())
        bp.check_etag(room, RoomOut)
        room = service.update_room(room=room, changes=changes, by=current_user())
        db.session.commit()
        return room


@bp.route("/staff")
class Staff(MethodView):
    @bp.arguments(StaffQuery, location="query")
    @bp.response(200, StaffOut(many=True))
    @bp.paginate(QueryPage)
    @authenticated
    def get(self, query: dict[str, Any]) -> Any:
        """The staff the caller may see (their clinic's; admins: everyone), by name."""
        return service.staff_directory(by=current_user(), **query)

    @idempotent
    @bp.etag
    @bp.arguments(StaffIn)
    @bp.response(201, StaffOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def post(self, data: dict[str, Any]) -> Created:
        """Create a staff member together with their login account and roles."""
        staff = service.create_staff(data=data, by=current_user())
        return _created(staff, "clinics.StaffById", staff_id=staff.id)


@bp.route("/staff/<uuid:staff_id>")
class StaffById(MethodView):
    @bp.etag
    @bp.response(200, StaffOut)
    @authenticated
    def get(self, staff_id: uuid.UUID) -> StaffMember:
        """One staff member with their roles and working hours."""
        return service.find_staff(staff_id=staff_id, by=current_user())

    @bp.etag
    @bp.arguments(STAFF_PATCH)
    @bp.response(200, StaffOut)
    @bp.doc(**documents([409]))
    @requires(Role.ADMIN)
    def patch(self, changes: dict[str, Any], staff_id: uuid.UUID) -> StaffMember:
        """Change a staff member (send If-Match); active=false also disables their login."""
        staff = service.find_staff(staff_id=staff_id, by=current_user())
        bp.check_etag(staff, StaffOut)
        staff = service.update_staff(
            staff=staff, changes=changes, by=current_user(), now=clock.now()
        )
        db.session.commit()
        return staff


@bp.route("/staff/<uuid:staff_id>/working-hours")
class StaffWorkingHours(MethodView):
    @bp.response(200, WorkingWeekOut)
    @authenticated
    def get(self, staff_id: uuid.UUID) -> StaffMember:
        """A staff member's working week, in their clinic's local time."""
        return service.find_staff(staff_id=staff_id, by=current_user())

    @bp.arguments(WorkingWeekIn)
    @bp.response(200, WorkingWeekOut)
    @requires(Role.ADMIN)
    def put(self, data: dict[str, Any], staff_id: uuid.UUID) -> StaffMember:
        """Replace a staff member's whole working week (clinic local time)."""
        staff = service.find_staff(staff_id=staff_id, by=current_user())
        staff = service.replace_working_hours(
            staff=staff, hours=data["working_hours"], by=current_user(), now=clock.now()
        )
        db.session.commit()
        return staff


@bp.route("/staff/<uuid:staff_id>/time-off")
class StaffTimeOff(MethodView):
    @bp.arguments(TimeOffQuery, location="query")
    @bp.response(200, TimeOffOut(many=True))
    @bp.paginate(QueryPage)
    @authenticated
    def get(self, query: dict[str, Any], staff_id: uuid.UUID) -> Any:
        """A staff member's time off, earliest first; from/to keep what overlaps them."""
        staff = service.find_staff(staff_id=staff_id, by=current_user())
        return service.time_off_of(staff=staff, **query)

    @idempotent
    @bp.arguments(TimeOffIn)
    @bp.response(201, TimeOffOut)
    @requires(Role.ADMIN)
    def post(self, data: dict[str, Any], staff_id: uuid.UUID) -> TimeOff:
        """Record time off (RFC 3339 with offset); at most 366 days per entry."""
        staff = service.find_staff(staff_id=staff_id, by=current_user())
        entry = service.add_time_off(staff=staff, **data, by=current_user(), now=clock.now())
        db.session.commit()
        return entry


@bp.route("/staff/<uuid:staff_id>/time-off/<uuid:time_off_id>", methods=["DELETE"])
@bp.response(204)
@requires(Role.ADMIN)
def withdraw_time_off(staff_id: uuid.UUID, time_off_id: uuid.UUID) -> None:
    """Withdraw time off: the staff member is bookable then again (the waitlist offers it)."""
    staff = service.find_staff(staff_id=staff_id, by=current_user())
    service.withdraw_time_off(
        staff=staff, time_off_id=time_off_id, by=current_user(), now=clock.now()
    )
    db.session.commit()
