"""The caller's identity: token verification, current_user() and @requires.

Every endpoint under /api/ needs an access token unless its view is marked
@public (tokens.install checks it before any argument is parsed), so a route
that forgets @requires is still closed. @requires adds the role check.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request
from flask_jwt_extended import get_current_user, verify_jwt_in_request

from kapt_api.auth.models import Role, User
from kapt_api.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_MARK = "_kapt_public"
_VERIFIED = "kapt.verified_user"
# The login session the request's token names, held while the request lasts.
LOGIN_SESSION_KEY = "_kapt_login_session"
# What a request leaves in `g` about its caller. Cleared when a request starts,
# because a test client's requests can share one application context.
IDENTITY_KEYS = (
    "_kapt_user",
    LOGIN_SESSION_KEY,
    "_jwt_extended_jwt",
    "_jwt_extended_jwt_header",
    "_jwt_extended_jwt_user",
    "_jwt_extended_jwt_location",
)


def current_user() -> User:
    """The authenticated user of this request (verify_jwt_in_request ran first)."""
    return cast(User, get_current_user())


def current_user_id() -> uuid.UUID | None:
    user = g.get("_kapt_user")
    return user.id if user is not None else None


def forget_identity() -> None:
    """Drop whatever an earlier request left in `g` about its caller."""
    for key in IDENTITY_KEYS:
        g.pop(key, None)


def authenticate() -> User:
    """The caller, from this request's access token (verified once per request)."""
    user = request.environ.get(_VERIFIED)
    if user is None:
        verify_jwt_in_request()
        user = current_user()
        request.environ[_VERIFIED] = user
    g._kapt_user = user
    return cast(User, user)


def public(view: F) -> F:
    """Mark a view under /api/ that answers without an access token (login, refresh)."""
    setattr(view, PUBLIC_MARK, True)
    return view


def is_public(view: Any, method: str) -> bool:
    """Whether `view` (a function, or a MethodView's view function) is marked @public."""
    if getattr(view, PUBLIC_MARK, False):
        return True
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class else None
    return bool(getattr(handler, PUBLIC_MARK, False))


def requires(*roles: Role) -> Callable[[F], F]:
    """Needs a valid access token and, if roles are given, one of them."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticate()
            if allowed and not user.roles & allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                raise Forbidden(f"This needs one of these roles: {names}.", code="missing_role")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


authenticated = requires()
