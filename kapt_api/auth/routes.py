"""Logins, tokens, the caller's own account, and the audit log."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth import service
from kapt_api.auth.audit import concerning
from kapt_api.auth.identity import authenticated, current_user, public, requires
from kapt_api.auth.models import AuditEvent, Role
from kapt_api.auth.schemas import AuditEventOut, AuditQuery, LoginIn, TokenOut, UserOut
from kapt_api.db import begin_write, db
from kapt_api.extensions import limiter
from kapt_api.openapi import QueryPage
from kapt_api.openapi.pages import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Logins, tokens and audit")


def _login_limit() -> str:
    return str(current_app.config["KAPT_LOGIN_RATE_LIMIT"])


def _login_account_key() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    # It runs before the body is validated: a lone surrogate must still give a key.
    key = str(email).strip().lower().encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(key).hexdigest()[:32]
    return f"login-account:{digest}"


def _failed(response: Any) -> bool:
    return bool(response.status_code == 401)


@bp.route("/auth/tokens", methods=["POST"])
@public
@limiter.limit(_login_limit, deduct_when=_failed)
@limiter.limit(_login_limit, key_func=_login_account_key, deduct_when=_failed)
@bp.arguments(LoginIn)
@bp.response(201, TokenOut)
def create_token(data: dict[str, Any]) -> service.TokenPair:
    """Log in: an access token and a refresh token for this login session."""
    begin_write(db.session)  # it writes the login session after reading the account
    tokens = service.log_in(email=data["email"], password=data["password"])
    db.session.commit()
    return tokens


@bp.route("/auth/tokens/refresh", methods=["POST"])
@public
@bp.response(201, TokenOut)
@bp.doc(security=[{"bearerAuth": []}], description="Send the refresh token as the bearer token.")
def refresh_token() -> service.TokenPair:
    """A new access token from a refresh token."""
    verify_jwt_in_request(refresh=True)
    claims = get_jwt()
    begin_write(db.session)
    tokens = service.refresh(claims["sid"], user_id=claims["sub"], now=clock.now())
    db.session.commit()
    return tokens


@bp.route("/auth/tokens/current", methods=["DELETE"])
@bp.response(204)
@authenticated
def revoke_token() -> None:
    """Log out: revoke every token of the current login session."""
    begin_write(db.session)
    service.revoke_session(get_jwt()["sid"], now=clock.now())
    db.session.commit()


@bp.route("/auth/me", methods=["GET"])
@bp.response(200, UserOut)
@authenticated
def who_am_i() -> Any:
    """The account behind the token, with its roles."""
    return current_user()


@bp.route("/audit-events")
class AuditEvents(MethodView):
    @bp.arguments(AuditQuery, location="query")
    @bp.response(200, AuditEventOut(many=True))
    @bp.paginate(QueryPage)
    @requires(Role.ADMIN)
    def get(self, query: dict[str, Any]) -> Any:
        """Who read or changed which record, when (newest first)."""
        stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
        for name in ("actor_id", "resource_type", "action", "outcome"):
            if name in query:
                stmt = stmt.where(getattr(AuditEvent, name) == query[name])
        if "patient_id" in query:
            stmt = stmt.where(concerning(query["patient_id"]))
        if "occurred_from" in query:
            stmt = stmt.where(AuditEvent.occurred_at >= query["occurred_from"])
        if "occurred_to" in query:
            stmt = stmt.where(AuditEvent.occurred_at < query["occurred_to"])
        return stmt
