"""Helpers shared by tests (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``safetyscope`` command line in a fresh process."""
    return subprocess.run([sys.executable, "-m", "safetyscope.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
