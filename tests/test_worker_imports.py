"""An API worker (`wsgi:app`) imports none of what only other processes or rare routes
need: each costs every worker megabytes of memory (docs/benchmarks.md, worker memory).
Alembic and Flask-Migrate run migrations (`flask db`), fhir.resources serves the FHIR
export when it is asked for, APScheduler runs in the scheduler process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_IN_A_WORKER = {"alembic", "apscheduler", "fhir", "fhir_core", "flask_migrate", "mako"}


def test_the_api_imports_no_migration_fhir_or_scheduler_library(tmp_path):
    listing = "import sys, wsgi; print(*sorted({m.split('.')[0] for m in sys.modules}))"
    environment = {
        **os.environ,
        "KAPT_ENV": "development",
        "KAPT_DATABASE_URL": f"sqlite:///{tmp_path / 'kapt.db'}",
    }
    found = subprocess.run(
        [sys.executable, "-c", listing],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "kapt_api" in found
    assert NOT_IN_A_WORKER.isdisjoint(found)
