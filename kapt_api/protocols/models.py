"""Protocols and their versions.

A version's rules are one JSON document (definition.py reads it). A published version
never changes: courses pin it, so editing a protocol never rewrites a patient's plan.
The service refuses the change and database triggers refuse it too (migration
0002_protocols).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kapt_api import clock
from kapt_api.db import Base, IdMixin, TimestampMixin
from kapt_api.protocols.definition import ProtocolDefinition, definition_of

DOCUMENT = JSON().with_variant(JSONB(), "postgresql")


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Protocol(IdMixin, TimestampMixin, Base):
    __tablename__ = "protocols"
    __table_args__ = (
        CheckConstraint(
            "medication IN ('esketamine', 'racemic_ketamine')", name="medication_known"
        ),
        CheckConstraint(
            "route IN ('intranasal', 'intravenous', 'intramuscular', 'sublingual', 'oral')",
            name="route_known",
        ),
        CheckConstraint(
            "medication <> 'esketamine' OR route = 'intranasal'", name="esketamine_intranasal"
        ),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    medication: Mapped[str] = mapped_column(String(30))
    route: Mapped[str] = mapped_column(String(20))
    # None: every clinic of the group may enrol patients on it.
    clinic_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    template_key: Mapped[str | None] = mapped_column(String(60))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    versions: Mapped[list[ProtocolVersion]] = relationship(
        back_populates="protocol", lazy="selectin", order_by="ProtocolVersion.number"
    )

    @property
    def published_versions(self) -> list[ProtocolVersion]:
        return [v for v in self.versions if v.status == VersionStatus.PUBLISHED]

    @property
    def current_version(self) -> ProtocolVersion | None:
        """The latest published version: the one new courses enrol on."""
        published = self.published_versions
        return published[-1] if published else None

    @property
    def current_version_id(self) -> uuid.UUID | None:
        current = self.current_version
        return current.id if current else None

    @property
    def draft(self) -> ProtocolVersion | None:
        return next((v for v in self.versions if v.status == VersionStatus.DRAFT), None)


class ProtocolVersion(IdMixin, Base):
    __tablename__ = "protocol_versions"
    __table_args__ = (
        UniqueConstraint("protocol_id", "number"),
        CheckConstraint("status IN ('draft', 'published')", name="status_known"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(
            "(status = 'draft' AND published_at IS NULL) "
            "OR (status = 'published' AND published_at IS NOT NULL)",
            name="published_at_when_published",
        ),
        # At most one draft per protocol: every edit goes to the same open draft.
        Index(
            "uq_protocol_versions_one_draft",
            "protocol_id",
            unique=True,
            sqlite_where="status = 'draft'",
            postgresql_where="status = 'draft'",
        ),
    )

    protocol_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocols.id"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=VersionStatus.DRAFT.value)
    document: Mapped[dict[str, Any]] = mapped_column(DOCUMENT)
    notes: Mapped[str] = mapped_column(Text, default="")
    based_on_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("protocol_versions.id")
    )
    template_key: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    published_at: Mapped[datetime | None]
    published_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    protocol: Mapped[Protocol] = relationship(back_populates="versions", lazy="joined")

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    @property
    def definition(self) -> ProtocolDefinition:
        # Parsed once per document this row holds: a new document (an edited draft, or
        # the row read again) is a new object, and is parsed, or found by content, again.
        document = self.document
        kept = self.__dict__.get("_kept_definition")
        if kept is None or kept[0] is not document:
            kept = (document, definition_of(self))
            self.__dict__["_kept_definition"] = kept
        return kept[1]
