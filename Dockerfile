# The one image of kapt-api: docker-compose.yml runs it as `migrate`
# (flask db upgrade), `api` (gunicorn) and `scheduler` (flask kapt scheduler).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FLASK_APP=wsgi

RUN groupadd --system --gid 10001 kapt \
 && useradd --system --uid 10001 --gid kapt --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin kapt

WORKDIR /app

# The runtime dependencies (no test or lint tools) in their own layer, rebuilt only
# when pyproject.toml changes. The project is installed in place (editable), as
# it finds migrations/ next to its package; the placeholder package is replaced
# by the real one below.
COPY pyproject.toml ./
RUN mkdir kapt_api \
 && touch kapt_api/__init__.py \
 && pip install --editable . \
 && rm -r kapt_api

COPY kapt_api ./kapt_api
COPY migrations ./migrations
COPY deploy ./deploy
COPY wsgi.py ./

USER kapt:kapt
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"]
