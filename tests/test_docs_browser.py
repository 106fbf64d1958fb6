"""The docs page at /docs, loaded in a real headless Chromium against the app served on a
loopback port: Swagger UI renders every operation from our own assets, and the page asks
nothing of any other host (no CDN, no online validator)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from kapt_api.openapi import SWAGGER_ASSETS

pytestmark = pytest.mark.slow

BROWSER_NAMES = ("chromium", "chromium-browser")
BROWSER_TIMEOUT = 90
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")


def _browser() -> str:
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is required in CI (.ci/run installs the Debian package).")
    pytest.skip("Chromium is not installed (apt-get install chromium).")


@pytest.fixture(scope="module")
def served(app: Flask) -> Iterator[str]:
    """The app served for real on a free loopback port, one request at a time."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def run_chromium(url: str, profile: Path, *extra: str) -> str:
    """Load `url` headless until Swagger UI settles; returns what Chromium printed."""
    command = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        # Nothing may leave the machine: every other host name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--window-size=1280,2000",
        *extra,
        url,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT}s loading {url}")
    assert process.returncode == 0, err[-2000:]
    return out


class _Rendered(HTMLParser):
    """Operation paths and summaries as Swagger UI renders them."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: set[str] = set()
        self.summaries: list[str] = []
        self._in_summary = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-path"):
            self.paths.add(str(found["data-path"]))
        classes = (found.get("class") or "").split()
        if "opblock-summary-description" in classes:
            self._in_summary += 1
            self.summaries.append("")
        elif self._in_summary:
            self._in_summary += 1

    def handle_endtag(self, tag: str) -> None:
        if self._in_summary:
            self._in_summary -= 1

    def handle_data(self, data: str) -> None:
        if self._in_summary:
            self.summaries[-1] += data


def _words(text: str) -> str:
    return " ".join(text.split())


def _requests_of_the_page(netlog: dict[str, Any], page_origin: str) -> list[str]:
    """URLs the page asked for (Chromium's own background traffic is told apart by its
    network isolation key, which names the page's site only for the page's requests)."""
    kinds = {value: name for name, value in netlog["constants"]["logEventTypes"].items()}
    site = page_origin.rsplit(":", 1)[0]
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        if kinds.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if site in params.get("network_isolation_key", "") or params.get("initiator") == (
            page_origin
        ):
            urls.append(params["url"])
    return urls


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    return dict(app.test_client().get("/openapi.json").get_json())


def test_swagger_ui_renders_every_operation_from_local_assets(
    served: str, spec: dict[str, Any], tmp_path: Path
) -> None:
    netlog_file = tmp_path / "netlog.json"
    dom = run_chromium(
        f"{served}/docs",
        tmp_path / "profile",
        "--dump-dom",
        f"--log-net-log={netlog_file}",
    )

    rendered = _Rendered()
    rendered.feed(dom)
    assert "swagger-ui" in dom, dom[:2000]
    documented = set(spec["paths"])
    assert documented <= rendered.paths, sorted(documented - rendered.paths)
    summaries = {_words(s) for s in rendered.summaries}
    expected = {
        _words(operation["summary"])
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }
    assert expected <= summaries, sorted(expected - summaries)[:5]
    assert "Log in: an access token and a refresh token for this login session." in summaries

    asked = _requests_of_the_page(json.loads(netlog_file.read_text()), served)
    assert f"{served}/docs" in asked
    assert f"{served}/openapi.json" in asked
    for asset in ASSETS:
        assert f"{served}/docs/assets/{asset}" in asked
    elsewhere = [url for url in asked if not url.startswith(f"{served}/")]
    assert elsewhere == []


def test_the_docs_page_names_only_local_urls(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    references = re.findall(r"""(?:src|href|url)\s*[:=]\s*["']([^"']+)["']""", page)
    assert references, page
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
    assert not re.search(r"https?://", html.unescape(page))
    assert '"validatorUrl": null' in page


def test_docs_assets_are_the_swagger_ui_package_files(client: FlaskClient) -> None:
    for asset in ASSETS:
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200, asset
        assert response.get_data() == (SWAGGER_ASSETS / asset).read_bytes()
    assert client.get("/docs/assets/../openapi.py").status_code == 404
