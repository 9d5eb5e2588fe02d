"""Filling prompt templates safely."""

from __future__ import annotations

import re

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, **values: str) -> str:
    """Replace ``{name}`` placeholders in one pass. Other braces (JSON examples) and any braces inside the
    inserted values are left alone, so user text can never inject a placeholder."""

    def replace(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return _FIELD.sub(replace, template)
