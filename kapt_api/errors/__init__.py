"""Domain errors and their one rendering: RFC 9457 problem+json.

Views raise; nothing builds an error body by hand. Every answer carries the
request id so a front-desk report can be matched to the server's logs. The errors
are in domain.py, their rendering in problems.py, the handlers the app installs in
handlers.py, the closed list of rule codes a violation may carry in rules.py.
"""

from __future__ import annotations

from kapt_api.errors.domain import (
    BadRequest,
    Conflict,
    DatabaseBusy,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    RuleRefused,
    Unauthorized,
    Violation,
)
from kapt_api.errors.handlers import JSON_DECODER_FILE, register
from kapt_api.errors.problems import (
    HTTP_PROBLEMS,
    PROBLEM_MIMETYPE,
    flatten_messages,
    problem,
    render_domain_error,
    render_http_exception,
)
from kapt_api.errors.rules import UnregisteredRule, register_rules, registered_rules

__all__ = [
    "HTTP_PROBLEMS",
    "JSON_DECODER_FILE",
    "PROBLEM_MIMETYPE",
    "BadRequest",
    "Conflict",
    "DatabaseBusy",
    "DomainError",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "NotFound",
    "RuleRefused",
    "Unauthorized",
    "UnregisteredRule",
    "Violation",
    "flatten_messages",
    "problem",
    "register",
    "register_rules",
    "registered_rules",
    "render_domain_error",
    "render_http_exception",
]
