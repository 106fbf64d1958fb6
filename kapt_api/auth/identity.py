"""The caller's identity: token verification, current_user() and @requires."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g
from flask_jwt_extended import get_current_user, verify_jwt_in_request

from kapt_api.auth.models import Role, User
from kapt_api.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> User:
    """The authenticated user of this request (verify_jwt_in_request ran first)."""
    return cast(User, get_current_user())


def current_user_id() -> uuid.UUID | None:
    user = g.get("_kapt_user")
    return user.id if user is not None else None


def requires(*roles: Role) -> Callable[[F], F]:
    """Needs a valid access token and, if roles are given, one of them."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            user = current_user()
            g._kapt_user = user
            if allowed and not user.roles & allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                raise Forbidden(f"This needs one of these roles: {names}.", code="missing_role")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


authenticated = requires()
