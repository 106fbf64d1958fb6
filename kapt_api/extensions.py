"""Extensions created here, bound to the app in app.py."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate

from kapt_api.db import db
from kapt_api.openapi import KaptApi

migrate = Migrate()
api = KaptApi()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)

__all__ = ["api", "db", "jwt", "limiter", "migrate"]
