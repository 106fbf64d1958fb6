"""The patient's page in a real headless Chromium at phone width: it loads with no
JavaScript of its own and nothing from any other host, and its buttons confirm,
confirm the escort home and cancel; the spent link then says so. A harness page served
from the same origin clicks the buttons inside a frame, as a patient would tap them,
and copies what each page says; a screenshot at 390 px is kept for a person to look at
(KAPT_SCREENSHOT_DIR, else the test's temporary directory)."""

from __future__ import annotations

import html
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from kapt_api.db import db
from kapt_api.scheduling.booking.models import Appointment
from tests.test_docs_browser import run_chromium

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("now")]
PHONE = ("--window-size=390,844",)

HARNESS = """<!doctype html><html><body><pre id="out"></pre>
<iframe id="frame" src="/p/{token}" style="width:390px;height:800px"></iframe>
<script>
const steps = ["#confirm", "#escort", "#ask-cancel", "#cancel", "reload", null];
const frame = document.getElementById("frame"), out = document.getElementById("out");
let step = 0;
frame.onload = () => {{
  const page = frame.contentDocument;
  out.textContent += "\\n=== page " + step + "\\n" + page.body.innerText;
  const next = steps[step++];
  if (next === "reload") frame.src = "/p/{token}";
  else if (next) page.querySelector(next).click();
}};
</script></body></html>"""


@pytest.fixture
def served(app: Flask) -> Iterator[Callable[[str], str]]:
    """The app on a loopback port, with a harness page for a token at /_harness/<token>."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_harness/"):
            token = re.sub(r"[^A-Za-z0-9_-]", "", path.rsplit("/", 1)[1])
            page = Response(HARNESS.format(token=token), mimetype="text/html")
            return page(environ, start_response)
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield lambda path: f"http://127.0.0.1:{server.server_port}{path}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _screenshot_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("KAPT_SCREENSHOT_DIR")
    return Path(wanted) if wanted else tmp_path


def test_the_page_at_phone_width_confirms_escorts_and_cancels(
    served, dose, link_of, tmp_path, patient
):
    token = link_of(dose)
    shots = _screenshot_dir(tmp_path)
    for name, path in (("patient-link.png", ""), ("patient-link-cancel.png", "/cancel")):
        shot = shots / name
        run_chromium(served(f"/p/{token}{path}"), tmp_path / name, *PHONE, f"--screenshot={shot}")
        assert shot.stat().st_size > 1000

    dom = run_chromium(served(f"/_harness/{token}"), tmp_path / "profile", "--dump-dom")
    shown = re.search(r'<pre id="out">(.*?)</pre>', dom, re.DOTALL)
    assert shown, dom[-2000:]
    pages = html.unescape(shown.group(1)).split("=== page ")[1:]
    assert len(pages) == 6, dom[-2000:]
    first, confirmed, escorted, asked, cancelled, spent = pages
    assert "Wednesday, December 9 at 10:00 AM" in first and "Cedar Clinic" in first
    assert patient.family_name not in dom
    assert "your appointment is confirmed" in confirmed
    assert "Someone will take you home." in escorted
    assert "Cancel this appointment?" in asked and "Your appointment is cancelled." in cancelled
    assert "This link has already been used." in spent

    db.session.expire_all()
    shown = db.session.get(Appointment, dose.id)
    assert shown.status == "cancelled" and shown.confirmed_at and shown.escort_confirmed_at
