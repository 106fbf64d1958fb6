"""The built-in protocol templates an administrator copies and adapts, one module each.

Every number comes from DOMAIN.md, which cites its source; each template lists those
sources and says that a medical director approves the values before clinical use.
Esketamine values are the label's and the REMS's (DOMAIN.md §1); racemic ketamine has
no regulatory protocol, so its values are published practice or, where DOMAIN.md says
so, our own suggestion (DOMAIN.md §2). What the templates share is in building_blocks.
"""

from __future__ import annotations

from kapt_api.protocols.templates import esketamine, im_kap, iv_series, sublingual_kap
from kapt_api.protocols.templates.building_blocks import ProtocolTemplate

__all__ = ["TEMPLATES", "ProtocolTemplate", "find_template"]

TEMPLATES: dict[str, ProtocolTemplate] = {
    t.key: t
    for t in (
        esketamine.TEMPLATE,
        iv_series.TEMPLATE,
        im_kap.TEMPLATE,
        sublingual_kap.TEMPLATE,
    )
}


def find_template(key: str) -> ProtocolTemplate | None:
    return TEMPLATES.get(key)
