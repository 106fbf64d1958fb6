"""OpenAPI plumbing: problem+json everywhere, documented error answers, local docs assets."""

from __future__ import annotations

import http
from pathlib import Path
from typing import Any

import marshmallow as ma
import swagger_ui
from flask import Blueprint, send_from_directory
from flask_smorest import Api, Page
from flask_smorest.utils import prepare_response
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kapt_api import errors

SWAGGER_ASSETS = Path(swagger_ui.__file__).resolve().parent / "static"
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/v1/auth/tokens", "/api/v1/auth/tokens/refresh"}


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe creation: the same key and body return the first answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


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
        ma.fields.Dict(),
        metadata={"description": "Every broken rule: {rule, message, ...}"},
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
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, errors.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)


class QueryPage(Page):
    """Paginate a SQLAlchemy select without loading the whole result."""

    def __init__(self, collection: Select[Any], page_params: Any) -> None:
        from kapt_api.db import db

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


def _ref(api: KaptApi, status: int) -> Any:
    return api.spec.components.get_ref("response", http.HTTPStatus(status).name)


def document_errors(api: KaptApi) -> None:
    """Add to every operation the error answers it can give, and its security."""
    for path, operations in api.spec._paths.items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            wanted: set[int] = set()
            if path not in PUBLIC_PATHS and path.startswith("/api/"):
                operation.setdefault("security", [{"bearerAuth": []}])
                wanted |= {401, 403}
            if "{" in path:
                wanted.add(404)
            if "requestBody" in operation:
                wanted |= {400, 413, 415, 422}
            if operation.get("parameters"):
                wanted.add(422)
            if method == "post" and path in PUBLIC_PATHS:
                wanted |= {401, 422, 429}
            wanted |= set(operation.pop("x-errors", []))
            if operation.pop("x-idempotent", False):
                wanted.add(409)
                operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
            for status in sorted(wanted):
                responses.setdefault(str(status), _ref(api, status))


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
    "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": False, "displayRequestDuration": True},
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Scheduling and session-protocol API of a ketamine-assisted psychotherapy clinic. "
                "Errors are RFC 9457 application/problem+json."
            ),
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    },
}
