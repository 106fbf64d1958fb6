"""Appointments: booking and moving them under every rule, the resource holds that
keep a person or a room from being in two places, attendance (check in, start,
complete, no-show, cancel) and the status history."""
