"""Idempotency-Key for creating POSTs: a front end that retries after a timeout
gets the first answer again instead of booking twice.

The key is claimed first in its own committed row (a unique constraint settles
a race between two retries), then the view runs, then its answer is stored.
A failed request releases the key so the client may retry with it.

A retry is the same request when its JSON means the same: keys in another order,
other spacing and 5.0 for 5 change nothing. Identical bytes are always the same
request, which also matches records fingerprinted before bodies were compared by
meaning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from flask import Response, request
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest.utils import deepupdate
from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api import clock
from kapt_api.auth.identity import current_user
from kapt_api.db import Base, IdMixin, begin_write, db
from kapt_api.errors import Conflict, InvalidInput

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
# Longer than any request may run (gunicorn's worker timeout is 30 s by default).
IN_PROGRESS_LEASE = timedelta(minutes=2)
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now(), index=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)


def _fingerprints() -> tuple[str, str]:
    """The request's fingerprint by the meaning of its JSON body, and by its exact bytes."""
    body = request.get_data()
    return _digest(_canonical(body)), _digest(body)


def _digest(body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(body)
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    """The JSON with sorted keys, no spaces and whole numbers as integers (5.0 is 5);
    a body that is not JSON stays as sent (the view refuses it)."""
    try:
        value = _whole_numbers(json.loads(body))
        # ASCII escapes: a lone surrogate, refused later by its field, still encodes.
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return body


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.body, status=record.status_code)
    for name, value in (record.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(
    user_id: uuid.UUID, key: str, fingerprints: tuple[str, str]
) -> IdempotencyRecord | Response:
    existing = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
    if existing is None:
        record = IdempotencyRecord(user_id=user_id, key=key, fingerprint=fingerprints[0])
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Conflict(
                "A request with this Idempotency-Key is still in progress.",
                code="idempotency_in_progress",
            ) from None
        return record
    if existing.fingerprint not in fingerprints:
        raise InvalidInput(
            {
                f"header:{HEADER}": [
                    "This key was already used for a different request; use a new key."
                ]
            }
        )
    if existing.status_code is None:
        if _take_over_abandoned(existing):
            return existing
        raise Conflict(
            "A request with this Idempotency-Key is still in progress.",
            code="idempotency_in_progress",
        )
    return _replay(existing)


def _take_over_abandoned(record: IdempotencyRecord) -> bool:
    """A claim older than the lease belongs to a request whose process died (a worker
    killed mid-request releases nothing); the retry takes it over, once."""
    now = clock.now()
    if record.created_at >= now - IN_PROGRESS_LEASE:
        return False
    taken = db.session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.created_at == record.created_at,
            IdempotencyRecord.status_code.is_(None),
        )
        .values(created_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(getattr(taken, "rowcount", 0))


def _release(record_id: uuid.UUID) -> None:
    db.session.rollback()
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()


def _store(record_id: uuid.UUID, response: Response) -> None:
    """Keep the answer under its key, for a retry to get again."""
    # SQLite: the lock first, as for any write after reads (db.begin_write), so storing
    # the answer of work already committed waits its turn instead of failing.
    begin_write(db.session)
    record = db.session.get(IdempotencyRecord, record_id)
    if record is not None:
        record.status_code = response.status_code
        record.body = response.get_data()
        record.headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
        db.session.commit()


def idempotent(view: F) -> F:
    """Honour an Idempotency-Key header on a creating POST (place under @bp.route)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.match(key):
            raise InvalidInput({f"header:{HEADER}": ["Use 1 to 255 visible ASCII characters."]})
        verify_jwt_in_request()
        claimed = _claim(current_user().id, key, _fingerprints())
        if isinstance(claimed, Response):
            return claimed
        record_id = claimed.id
        try:
            response = view(*args, **kwargs)
        except Exception:
            _release(record_id)
            raise
        if not isinstance(response, Response) or response.status_code >= 300:
            _release(record_id)
            return response
        _store(record_id, response)
        return response

    # Tell the OpenAPI post-processing (openapi.document_errors) to document the header.
    wrapper._apidoc = deepupdate(  # type: ignore[attr-defined]
        dict(getattr(view, "_apidoc", {})), {"manual_doc": {"x-idempotent": True}}
    )
    return cast(F, wrapper)


def purge_expired(*, now: datetime) -> int:
    """Forget keys older than the retention window."""
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
