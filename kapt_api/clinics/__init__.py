"""Clinics, rooms, staff, working hours and time off."""
