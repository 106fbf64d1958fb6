"""Patients, their contact details, reminder consent and care team."""
