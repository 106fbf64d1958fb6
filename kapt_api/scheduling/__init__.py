"""Courses, appointments and the booking rules: who may be where, when, and what a
patient's protocol allows next. Other packages hear about changes through signals.py.
"""
