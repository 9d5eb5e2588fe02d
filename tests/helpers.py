"""Helpers shared by tests (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``SAFETYSCOPE_SHARED`` if set, else ``../shared`` beside the repository."""
    configured = os.environ.get("SAFETYSCOPE_SHARED")
    path = Path(configured) if configured else REPO.parent / "shared"
    return path if path.is_dir() else None


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path
