"""Flask-JWT-Extended wiring: who a token names, whether its login session is live, and
problem+json for every token error."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request

from kapt_api import clock
from kapt_api.auth import service
from kapt_api.auth.identity import LOGIN_SESSION_KEY, authenticate, forget_identity, is_public
from kapt_api.auth.models import User
from kapt_api.errors import Unauthorized, render_domain_error
from kapt_api.extensions import jwt


def _unauthorized(detail: str, code: str) -> Response:
    return render_domain_error(Unauthorized(detail, code=code))


def _require_access_token() -> None:
    """Closed by default: every /api/ endpoint needs an access token unless marked @public.

    Runs before the view's arguments are parsed, so a caller without a token
    learns nothing about the request shape (401, never 422).
    """
    forget_identity()
    # OPTIONS is a browser's CORS preflight, sent without credentials.
    if request.method == "OPTIONS" or request.endpoint is None:
        return
    if not request.path.startswith("/api/"):
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None or is_public(view, request.method):
        return
    authenticate()


def install(app: Flask) -> None:
    app.config.setdefault("JWT_SECRET_KEY", app.config["SECRET_KEY"])
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]
    app.config["JWT_ALGORITHM"] = "HS256"
    jwt.init_app(app)
    app.before_request(_require_access_token)
    jwt.user_lookup_loader(_load_user)
    jwt.token_in_blocklist_loader(_refuse_unless_live)
    jwt.unauthorized_loader(_missing)
    jwt.invalid_token_loader(_invalid)
    jwt.expired_token_loader(_expired)
    jwt.user_lookup_error_loader(_no_user)
    jwt.needs_fresh_token_loader(_not_fresh)


def _load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    return service.load_active_user(payload["sub"])


def _refuse_unless_live(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    # An allow-list, not a blocklist: check_session raises the refusal itself, as an
    # unknown, a revoked and an ended session each have their own code. The session
    # is held for the request: the database session keeps only weak references, and
    # the user lookup that follows reads the user it brought along.
    session = service.check_session(
        payload.get("sid"), user_id=str(payload.get("sub")), now=clock.now()
    )
    setattr(g, LOGIN_SESSION_KEY, session)
    return False


def _missing(reason: str) -> Response:
    return _unauthorized("Send a bearer token in the Authorization header.", "token_missing")


def _invalid(reason: str) -> Response:
    return _unauthorized("The token is not valid.", "token_invalid")


def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The token has expired; refresh it or log in again.", "token_expired")


def _no_user(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("The account is disabled or no longer exists.", "account_inactive")


def _not_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("Log in again to do this.", "fresh_login_needed")
