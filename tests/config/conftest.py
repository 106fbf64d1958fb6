"""Config test fixtures: a development key made by a test lands in its own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapt_api import config

ROOT = Path(__file__).resolve().parent.parent.parent
GOOD_SECRET = "s" * 48


@pytest.fixture(autouse=True)
def instance_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A development key made by a test lands here, never in the project's instance/."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE_DIR", folder)
    return folder
