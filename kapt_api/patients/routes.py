"""Patient endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/api/v1", description="Patients")
