"""Clinics, rooms and staff endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("clinics", __name__, url_prefix="/api/v1", description="Clinics, rooms and staff")
