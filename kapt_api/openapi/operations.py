"""Each operation's operationId: the name a generated client gives its function.

Stable by being written here rather than derived from view function names, which may
change with the code; in the clinic's words, verb first (tests/openapi/test_operations.py
checks that every operation has one and that no two share one)."""

from __future__ import annotations

from typing import Any

V1 = "/api/v1"

OPERATION_IDS: dict[str, str] = {
    "GET /healthz": "check_health",
    "GET /readyz": "check_readiness",
    f"POST {V1}/auth/tokens": "log_in",
    f"POST {V1}/auth/tokens/refresh": "refresh_token",
    f"DELETE {V1}/auth/tokens/current": "log_out",
    f"GET {V1}/auth/me": "get_current_user",
    f"GET {V1}/audit-events": "list_audit_events",
    f"GET {V1}/clinics": "list_clinics",
    f"POST {V1}/clinics": "create_clinic",
    f"GET {V1}/clinics/{{clinic_id}}": "get_clinic",
    f"PATCH {V1}/clinics/{{clinic_id}}": "update_clinic",
    f"GET {V1}/clinics/{{clinic_id}}/rooms": "list_rooms",
    f"POST {V1}/clinics/{{clinic_id}}/rooms": "add_room",
    f"GET {V1}/rooms/{{room_id}}": "get_room",
    f"PATCH {V1}/rooms/{{room_id}}": "update_room",
    f"GET {V1}/staff": "list_staff",
    f"POST {V1}/staff": "add_staff_member",
    f"GET {V1}/staff/{{staff_id}}": "get_staff_member",
    f"PATCH {V1}/staff/{{staff_id}}": "update_staff_member",
    f"GET {V1}/staff/{{staff_id}}/working-hours": "get_working_hours",
    f"PUT {V1}/staff/{{staff_id}}/working-hours": "set_working_hours",
    f"GET {V1}/staff/{{staff_id}}/time-off": "list_time_off",
    f"POST {V1}/staff/{{staff_id}}/time-off": "add_time_off",
    f"DELETE {V1}/staff/{{staff_id}}/time-off/{{time_off_id}}": "withdraw_time_off",
    f"GET {V1}/patients": "list_patients",
    f"POST {V1}/patients": "register_patient",
    f"GET {V1}/patients/{{patient_id}}": "get_patient",
    f"PATCH {V1}/patients/{{patient_id}}": "update_patient",
    f"GET {V1}/protocols": "list_protocols",
    f"POST {V1}/protocols": "create_protocol",
    f"GET {V1}/protocols/{{protocol_id}}": "get_protocol",
    f"POST {V1}/protocols/{{protocol_id}}/versions": "draft_protocol_version",
    f"GET {V1}/protocol-versions/{{version_id}}": "get_protocol_version",
    f"PATCH {V1}/protocol-versions/{{version_id}}": "update_protocol_version",
    f"POST {V1}/protocol-versions/{{version_id}}/publish": "publish_protocol_version",
    f"GET {V1}/protocol-versions/{{version_id}}/reminder-policy": "get_reminder_policy",
    f"PUT {V1}/protocol-versions/{{version_id}}/reminder-policy": "set_reminder_policy",
    f"GET {V1}/protocol-templates": "list_protocol_templates",
    f"GET {V1}/protocol-templates/{{key}}": "get_protocol_template",
    f"POST {V1}/protocol-templates/{{key}}/copy": "copy_protocol_template",
    f"POST {V1}/courses": "enrol_patient",
    f"GET {V1}/courses/{{course_id}}": "get_course",
    f"POST {V1}/courses/{{course_id}}/discontinue": "discontinue_course",
    f"GET {V1}/courses/{{course_id}}/progress": "get_course_progress",
    f"GET {V1}/appointments": "list_appointments",
    f"POST {V1}/appointments": "book_appointment",
    f"GET {V1}/appointments/{{appointment_id}}": "get_appointment",
    f"PATCH {V1}/appointments/{{appointment_id}}": "move_appointment",
    f"POST {V1}/appointments/{{appointment_id}}/cancel": "cancel_appointment",
    f"POST {V1}/appointments/{{appointment_id}}/check-in": "check_in_appointment",
    f"POST {V1}/appointments/{{appointment_id}}/start": "start_appointment",
    f"POST {V1}/appointments/{{appointment_id}}/complete": "complete_appointment",
    f"POST {V1}/appointments/{{appointment_id}}/no-show": "mark_no_show",
    f"POST {V1}/courses/{{course_id}}/waitlist": "put_on_waitlist",
    f"GET {V1}/waitlist": "list_waitlist_entries",
    f"GET {V1}/waitlist/{{entry_id}}": "get_waitlist_entry",
    f"DELETE {V1}/waitlist/{{entry_id}}": "remove_waitlist_entry",
    f"GET {V1}/waitlist/offers": "list_freed_slots",
    f"POST {V1}/waitlist/offers/{{offer_id}}/accept": "accept_offer",
    f"POST {V1}/waitlist/offers/{{offer_id}}/decline": "decline_offer",
    f"GET {V1}/schedule": "get_clinic_schedule",
    f"GET {V1}/staff/{{staff_id}}/schedule": "get_staff_schedule",
    f"POST {V1}/staff/{{staff_id}}/calendar-feed": "issue_calendar_feed",
    f"DELETE {V1}/staff/{{staff_id}}/calendar-feed": "revoke_calendar_feed",
    f"GET {V1}/calendar/{{token}}.ics": "get_calendar_feed",
    f"GET {V1}/courses/{{course_id}}/slots": "list_course_slots",
    f"POST {V1}/courses/{{course_id}}/plan": "plan_course",
    f"POST {V1}/appointments/batch": "book_batch",
    f"GET {V1}/clinics/{{clinic_id}}/utilisation": "get_clinic_utilisation",
    f"GET {V1}/patient-links/{{token}}": "read_patient_link",
    f"POST {V1}/patient-links/{{token}}/confirm": "confirm_by_link",
    f"POST {V1}/patient-links/{{token}}/escort": "confirm_escort_by_link",
    f"POST {V1}/patient-links/{{token}}/cancel": "cancel_by_link",
    f"POST {V1}/patient-links/{{token}}/accept": "accept_offer_by_link",
    f"GET {V1}/reminders": "list_reminders",
    f"GET {V1}/webhook-subscriptions": "list_webhook_subscriptions",
    f"POST {V1}/webhook-subscriptions": "create_webhook_subscription",
    f"DELETE {V1}/webhook-subscriptions/{{subscription_id}}": "delete_webhook_subscription",
    f"POST {V1}/sms/inbound": "receive_sms_reply",
    f"GET {V1}/appointments/{{appointment_id}}/monitoring": "get_checklist",
    f"POST {V1}/appointments/{{appointment_id}}/monitoring/readings": "record_reading",
    f"POST {V1}/appointments/{{appointment_id}}/monitoring/hold-override": "override_hold",
    f"POST {V1}/appointments/{{appointment_id}}/monitoring/discharge": "discharge_patient",
    f"POST {V1}/appointments/{{appointment_id}}/monitoring/administration": (
        "record_administration"
    ),
    f"GET {V1}/appointments/{{appointment_id}}/monitoring/rems-form": "get_rems_form",
    f"POST {V1}/appointments/{{appointment_id}}/monitoring/rems-form/submitted": (
        "mark_rems_form_submitted"
    ),
    f"GET {V1}/appointments/{{appointment_id}}/monitoring/fhir": "get_fhir_bundle",
    f"GET {V1}/appointments/{{appointment_id}}/monitoring/chart.svg": "get_monitoring_chart",
    f"GET {V1}/alerts": "list_alerts",
    f"POST {V1}/alerts/{{alert_id}}/acknowledge": "acknowledge_alert",
    f"POST {V1}/courses/{{course_id}}/measures": "record_measure",
    f"GET {V1}/courses/{{course_id}}/measures": "list_measures",
    f"GET {V1}/courses/{{course_id}}/measures/trend": "get_measure_trend",
}


def name_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    """Give the operation its operationId from the table (one not in it stays unnamed,
    which tests/openapi/test_operations.py reports)."""
    operation_id = OPERATION_IDS.get(f"{method.upper()} {path}")
    if operation_id is not None:
        operation.setdefault("operationId", operation_id)
