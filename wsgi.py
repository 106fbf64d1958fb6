"""gunicorn's entry point: `gunicorn wsgi:app`. Never starts the scheduler."""

from kapt_api import create_app

app = create_app()
