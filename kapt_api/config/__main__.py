"""`python -m kapt_api.config` prints the README's configuration table."""

from __future__ import annotations

import sys

from kapt_api.config import markdown_table

sys.stdout.write(markdown_table())
