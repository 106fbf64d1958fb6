"""Vital-sign checklists, readings, thresholds and alerts, discharge, REMS, FHIR, chart."""

from kapt_api.monitoring import receivers

receivers.connect()
