"""Container health check: exit 0 when the URL answers 2xx within 3 seconds, else 1.

    python deploy/healthcheck.py http://127.0.0.1:8000/readyz

The slim image has no curl; this needs nothing but the standard library.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/readyz"


def healthy(url: str, timeout: float = 3.0) -> bool:
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL
    sys.exit(0 if healthy(url) else 1)
