"""kapt-api: scheduling and session protocols of a ketamine-assisted psychotherapy clinic."""

from kapt_api.app import create_app

__all__ = ["create_app"]
