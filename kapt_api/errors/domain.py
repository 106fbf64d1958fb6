"""The errors a domain raises on purpose: each carries its HTTP status, a stable code
and a title, and a refusal names every rule it breaks (Violation)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kapt_api.errors.rules import unregistered


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code and a sentence a front-desk person understands."""

    rule: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, **self.details}


class DomainError(Exception):
    """Base of every error a domain raises on purpose."""

    status = 422
    code = "unprocessable"
    title = "The request breaks a rule"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Mapping[str, Iterable[str]] | None = None,
        violations: Iterable[Violation] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.violations = list(violations)
        unregistered(v.rule for v in self.violations)  # raises under test (rules.py)
        self.headers = dict(headers or {})


class InvalidInput(DomainError):
    """Valid JSON whose fields break a rule; `errors` names each field."""

    code = "invalid_input"
    title = "Some fields are not valid"

    def __init__(self, errors: Mapping[str, Iterable[str]], detail: str | None = None) -> None:
        names = ", ".join(sorted(errors))
        super().__init__(detail or f"Check these fields: {names}.", errors=errors)


class RuleRefused(DomainError):
    """A clinical or business rule refuses the request; lists every violation."""

    code = "rule_violation"
    title = "The request breaks one or more rules"

    def __init__(self, violations: Iterable[Violation], detail: str | None = None) -> None:
        items = list(violations)
        super().__init__(detail or " ".join(v.message for v in items), violations=items)


class BadRequest(DomainError):
    """A request whose framing (a header, the query string) is malformed."""

    status = 400
    code = "bad_request"
    title = "Malformed request"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="kapt-api"'})
        super().__init__(detail, **kwargs)


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class Gone(DomainError):
    """What the request names existed but no longer works (a used or expired link)."""

    status = 410
    code = "gone"
    title = "No longer available"

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message, code=violation.rule, violations=[violation])


class DatabaseBusy(DomainError):
    """Every attempt of the request met another transaction in its way (retries.py):
    nothing was changed, and the same request a moment later should pass."""

    status = 503
    code = "database_busy"
    title = "The database is busy"
    RETRY_AFTER_SECONDS = 1

    def __init__(self) -> None:
        super().__init__(
            "Too many changes to the same schedule at once; nothing was changed. "
            "Send the request again in a moment.",
            headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)},
        )
