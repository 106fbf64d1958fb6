"""What a client sees does not change by accident: the served OpenAPI document is
compared byte for byte with the committed snapshot. A deliberate change to the contract
updates the snapshot in the same commit (`make openapi-snapshot`), so the diff shows
reviewers exactly what front ends will see."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from flask import Flask

pytestmark = pytest.mark.once  # the document does not depend on the engine

SNAPSHOT = Path(__file__).resolve().parent / "openapi_snapshot.json"


def test_the_served_document_is_the_committed_snapshot(app: Flask) -> None:
    served = app.test_client().get("/openapi.json").data
    committed = SNAPSHOT.read_bytes()
    if served != committed:
        diff = difflib.unified_diff(
            committed.decode().splitlines(),
            served.decode().splitlines(),
            "openapi_snapshot.json",
            "/openapi.json",
            lineterm="",
            n=2,
        )
        pytest.fail("The OpenAPI document changed:\n" + "\n".join(list(diff)[:80]))
