"""Reminders: the outbox, planning from appointment events, the dispatcher, channels.

`routes` imports `planning`, whose receivers subscribe to scheduling's signals, so
whenever the app runs reminders are planned, moved and cancelled in the same
transaction as the appointment.
"""
