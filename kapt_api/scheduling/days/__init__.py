"""Day schedules: a clinic's day by room and by staff member, one person's day, each
dose with its readiness, kept per process until the clinic's schedule changes."""
