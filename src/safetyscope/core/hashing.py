"""Content hashes that key every target and judge call in the store."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, pydantic models dumped first."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_default)


def content_hash(*parts: Any) -> str:
    """A 32-hex-digit BLAKE2b digest of the canonical JSON of ``parts``."""
    return hashlib.blake2b(canonical_json(parts), digest_size=16).hexdigest()


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot hash {type(value).__name__}")
