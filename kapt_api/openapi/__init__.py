"""OpenAPI plumbing: problem+json everywhere, documented error answers (see document.py),
paginated lists, local docs assets."""

from __future__ import annotations

import copy
import http
from pathlib import Path
from typing import Any

import marshmallow as ma
import swagger_ui
from flask import Blueprint, request, send_from_directory
from flask_smorest import Api, Page
from flask_smorest import pagination as smorest_pagination
from flask_smorest.etag import IF_MATCH_HEADER, EtagMixin
from flask_smorest.exceptions import PreconditionFailed
from flask_smorest.pagination import PaginationMetadataSchema, PaginationParameters
from flask_smorest.utils import prepare_response
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kapt_api import errors
from kapt_api.fields import Integer
from kapt_api.openapi.document import BEARER, MAX_PAGE, document_errors

__all__ = [
    "MAX_PAGE",
    "OPENAPI_CONFIG",
    "OPTIONAL_IF_MATCH",
    "KaptApi",
    "ListPage",
    "QueryPage",
    "check_if_match",
    "docs_assets",
    "document_errors",
    "documents",
]

SWAGGER_ASSETS = Path(swagger_ui.__file__).resolve().parent / "static"
_ENTITY_TAG = '(W/)?"[\\x21\\x23-\\x7e]*"'
IF_MATCH_PATTERN = f"^([*]|{_ENTITY_TAG}([ \\t]*,[ \\t]*{_ENTITY_TAG})*)$"

# If-Match where flask-smorest does not ask for it (a POST that changes a record).
OPTIONAL_IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'The ETag of the version you loaded, e.g. "3f2a...": when sent, a '
    "version that changed since is refused with 412 and nothing is changed.",
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
# Headers some error answers carry, documented on the shared error responses.
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use: Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}


# What the shared error responses say beyond the status phrase.
ERROR_DESCRIPTIONS = {
    401: "Unauthorized. The problem's `code` says why: `token_missing`; `token_invalid` "
    "(malformed, or not signed by this server); `token_expired` (refresh it); "
    "`token_revoked` (logged out, or the account was deactivated); `session_unknown` "
    "(the token names no login session this server issued); `session_expired` (the "
    "login session has ended); `account_inactive`; `fresh_login_needed`; "
    "`bad_credentials` (a refused login).",
    503: "Service Unavailable; nothing was changed. The problem's `code` says why: "
    "`database_busy` (every attempt met other changes of the same schedules: send it "
    "again after Retry-After) or `database_unavailable` (the database cannot be reached).",
}


class ViolationSchema(ma.Schema):
    """One broken rule; some rules add facts of their own (the conflicting appointment,
    the window the rule allows) beside the two fields every violation has."""

    class Meta:
        unknown = ma.INCLUDE

    rule = ma.fields.String(
        required=True,
        metadata={
            "description": "The rule's stable code, e.g. room_conflict; the list is closed "
            "and a new code is a change of this document"
        },
    )
    message = ma.fields.String(
        required=True, metadata={"description": "What is wrong, in words for front-desk staff"}
    )


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True, metadata={"description": "URI naming the problem"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    request_id = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable code of a domain error"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Invalid input: field name to messages"},
    )
    violations = ma.fields.List(
        ma.fields.Nested(ViolationSchema),
        metadata={"description": "Every broken rule"},
    )


class KaptApi(Api):
    """flask-smorest's Api answering RFC 9457 problem+json for every error."""

    ERROR_SCHEMA = ProblemSchema
    # Each operation lists the errors it can give (see document_errors) instead of a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:
        return errors.render_http_exception(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS.get(status, status.phrase)
            }
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                if status in ERROR_HEADERS:
                    response["headers"] = copy.deepcopy(ERROR_HEADERS[status])
            prepare_response(response, self.spec, errors.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def _register_etag_headers(self) -> None:
        super()._register_etag_headers()
        # A value that is not a list of entity-tags (RFC 9110) reads as no If-Match at all,
        # which flask-smorest answers with 428: the document says which values count.
        if_match = copy.deepcopy(IF_MATCH_HEADER)
        if_match["description"] = 'The ETag of the version being changed, e.g. "3f2a..." or *.'
        if_match["schema"]["pattern"] = IF_MATCH_PATTERN
        self.spec.components.parameter("IF_MATCH", "header", if_match, lazy=True)

    def _register_pagination_header(self) -> None:
        # flask-smorest documents the header with an object schema, but its value is a
        # JSON text: a string, whose content the JSON Schema content keywords describe.
        self.spec.components.schema("PaginationMetadata", schema=PaginationMetadataSchema)
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, a JSON object (see PaginationMetadata).",
                "required": True,
                "schema": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": "#/components/schemas/PaginationMetadata"},
                },
            },
            lazy=True,
        )


def _strict_page_parameters(def_page: int, def_page_size: int, def_max_page_size: int) -> type:
    """flask-smorest's page parameters, read by our strict Integer."""

    class PaginationParametersSchema(ma.Schema):
        class Meta:
            unknown = ma.EXCLUDE

        page = Integer(load_default=def_page, validate=ma.validate.Range(min=1))
        page_size = Integer(
            load_default=def_page_size, validate=ma.validate.Range(min=1, max=def_max_page_size)
        )

        @ma.post_load
        def make_paginator(self, data: dict[str, int], **_kwargs: Any) -> PaginationParameters:
            return PaginationParameters(**data)

    return PaginationParametersSchema


# flask-smorest reads page and page_size with marshmallow's lenient Integer, which takes
# " 5", "+5", "1_0" and Arabic-Indic digits for numbers; it builds that schema in this one
# function, with no setting to choose another (tests/fields/test_strict_types.py checks
# the swap holds).
smorest_pagination._pagination_parameters_schema_factory = _strict_page_parameters


def _refuse_far_pages(page_params: Any) -> None:
    if page_params.page > MAX_PAGE:
        raise errors.InvalidInput({"page": [f"Must be at most {MAX_PAGE}."]})


class QueryPage(Page):
    """Paginate a SQLAlchemy select without loading the whole result."""

    def __init__(self, collection: Select[Any], page_params: Any) -> None:
        from kapt_api.db import db

        _refuse_far_pages(page_params)
        self._session = db.session
        super().__init__(collection, page_params)

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        query = self.collection.limit(params.page_size).offset(params.first_item)
        return list(self._session.scalars(query))

    @property
    def item_count(self) -> int:
        count = select(func.count()).select_from(self.collection.order_by(None).subquery())
        return int(self._session.scalar(count) or 0)


class ListPage(Page):
    """Paginate an in-memory list (small collections already filtered by policy)."""

    def __init__(self, collection: Any, page_params: Any) -> None:
        _refuse_far_pages(page_params)
        super().__init__(collection, page_params)


def check_if_match(answer: Any) -> None:
    """412 unless the request's If-Match, when sent, names `answer` as flask-smorest tags
    it (the ETag its GET gave): check_etag, for the POSTs that change a record."""
    if request.if_match and EtagMixin._generate_etag(answer) not in request.if_match:
        raise PreconditionFailed


def documents(status_codes: list[int]) -> dict[str, Any]:
    """Extra error statuses for @bp.doc(**documents([409]))."""
    return {"x-errors": status_codes}


docs_assets = Blueprint("docs_assets", __name__)


@docs_assets.route("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Response:
    """Swagger UI's files, served by us: the docs page needs no CDN."""
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=3600)


OPENAPI_CONFIG: dict[str, Any] = {
    "API_TITLE": "kapt-api",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    "OPENAPI_SWAGGER_UI_CONFIG": {
        "persistAuthorization": False,
        "displayRequestDuration": True,
        # Swagger UI would otherwise send the document's URL to validator.swagger.io.
        "validatorUrl": None,
    },
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Scheduling and session-protocol API of a ketamine-assisted psychotherapy clinic. "
                "Errors are RFC 9457 application/problem+json. Lists are paginated (page, "
                "page_size) and say so in X-Pagination, X-Total-Count and a Link header "
                "(RFC 8288: first, prev, next, last). A PATCH needs If-Match with the ETag "
                "it changes; a GET that sends an ETag answers 304 to If-None-Match. Fields "
                "marked as for the care team only are absent from other readers' answers."
            ),
        },
        "components": {
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    },
}
