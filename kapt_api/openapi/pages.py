"""Lists a client can page through without parsing a header's JSON: beside flask-smorest's
X-Pagination, a Link header (RFC 8288) naming the first, previous, next and last pages,
and the item count as a plain integer (X-Total-Count)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import flask_smorest
from flask import request

LINK_HEADER = "Link"
TOTAL_HEADER = "X-Total-Count"
LINK_DOC = {
    "description": "RFC 8288 links to the other pages of the list, relative to this "
    'request\'s URL: rel="first", "prev" (not on the first page), "next" (not on the '
    'last page) and "last", e.g. </api/v1/alerts?page=3&page_size=20>; rel="next". '
    "Absent when the list is empty.",
    "schema": {"type": "string"},
}
TOTAL_DOC = {
    "description": "How many items the whole list holds, over all its pages.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def _page_url(page: int, page_size: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in {"page", "page_size"}]
    query = urlencode([*args, ("page", page), ("page_size", page_size)])
    return f"{request.script_root}{request.path}?{query}"


def page_links(page: int, page_size: int, item_count: int) -> str:
    """The Link header's value for one page of a list of item_count items."""
    if item_count == 0:
        return ""
    last = (item_count - 1) // page_size + 1
    wanted = {"first": 1, "prev": min(page - 1, last), "next": page + 1, "last": last}
    return ", ".join(
        f'<{_page_url(number, page_size)}>; rel="{rel}"'
        for rel, number in wanted.items()
        if 1 <= number <= last and (rel != "next" or page < last)
    )


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose paginated lists also send Link and X-Total-Count."""

    def _set_pagination_metadata(
        self, page_params: Any, result: Any, headers: Any
    ) -> tuple[Any, Any]:
        result, headers = super()._set_pagination_metadata(page_params, result, headers)
        headers[TOTAL_HEADER] = str(page_params.item_count)
        links = page_links(page_params.page, page_params.page_size, page_params.item_count)
        if links:
            headers[LINK_HEADER] = links
        return result, headers

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        super()._document_pagination_metadata(spec, resp_doc)
        resp_doc["headers"].update({LINK_HEADER: dict(LINK_DOC), TOTAL_HEADER: dict(TOTAL_DOC)})
