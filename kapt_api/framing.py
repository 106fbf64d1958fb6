"""What every request must be before a view reads it: a query string of UTF-8 text, an
If-Match that is a list of entity-tags (RFC 9110 §13.1.1), a body within the size limit
however it is sent. Each is refused, never read some other way: werkzeug keeps an
undecodable query value as its percent-escapes, reads an If-Match it cannot parse as
none at all and an unquoted one as a tag, and cuts a chunked body at the limit."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import HTTPException, LengthRequired, RequestEntityTooLarge

from kapt_api.errors import BadRequest, InvalidInput
from kapt_api.openapi import IF_MATCH_PATTERN

_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def install(app: Flask) -> None:
    app.before_request(check_framing)


def check_framing() -> None:
    """Refuse a request whose query string, If-Match or chunked body is malformed; an
    unknown path or method is answered 404 or 405 first, whatever it was sent with."""
    if request.routing_exception is not None:
        return
    _query_is_utf8()
    _if_match_lists_entity_tags()
    _chunked_body_within_limit()


def _query_is_utf8() -> None:
    problems: dict[str, list[str]] = {}
    for pair in request.query_string.split(b"&"):
        name, _, value = (_unquoted(part) for part in pair.partition(b"="))
        try:
            name.decode("utf-8"), value.decode("utf-8")
        except UnicodeDecodeError:
            label = name.decode("utf-8", "replace") or "query"
            problems[label] = ["Must be UTF-8 text, percent-encoded (%C3%A9 for é)."]
    if problems:
        raise InvalidInput(problems)


def _unquoted(part: bytes) -> bytes:
    return unquote_to_bytes(part.replace(b"+", b" "))


def _if_match_lists_entity_tags() -> None:
    # An empty value lists no tags: flask-smorest answers it as a missing If-Match (428).
    value = request.headers.get("If-Match", "").strip(" \t")
    if value and not _IF_MATCH.fullmatch(value):
        raise BadRequest(
            'If-Match must be * or quoted ETags separated by commas, e.g. "3f2a9c".',
            code="if_match_malformed",
        )


def _chunked_body_within_limit() -> None:
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if request.content_length is not None or not chunked:
        return
    if not request.environ.get("wsgi.input_terminated"):
        # werkzeug would read the body as empty: a server that does not end the stream
        # cannot say where a chunked body stops.
        raise LengthRequired("Send the body with a Content-Length header.")
    limit = request.max_content_length
    try:
        request.get_data(cache=True)  # at most `limit` bytes, kept for the view
        more = limit is not None and request.environ["wsgi.input"].read(1)
    except HTTPException:
        raise
    except Exception as error:  # the server's parser refusing the chunks (gunicorn's own)
        raise BadRequest("The chunked body is malformed.", code="malformed_body") from error
    if more:
        raise RequestEntityTooLarge()
