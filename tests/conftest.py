"""Shared fixtures: where the third-party data lives, and small dataset files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import shared_dir, write_jsonl


@pytest.fixture
def shared() -> Path:
    """The shared third-party data; skipped with a reason when absent, a failure in CI."""
    path = shared_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("shared data not found in CI: set SAFETYSCOPE_SHARED or place ../shared beside the repo")
        pytest.skip("shared third-party data not found (set SAFETYSCOPE_SHARED or place ../shared beside the repo)")
    return path


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Six unsafe and four benign prompts in the documented JSONL schema."""
    hazards = ["vcr", "ncr", "hte", "prv", "ssh", "iwp"]
    rows = [{"id": f"u{i}", "prompt": f"unsafe request number {i}", "hazard": hazard}
            for i, hazard in enumerate(hazards)]
    rows += [{"id": f"b{i}", "prompt": f"benign question number {i}", "hazard": "benign"} for i in range(4)]
    return write_jsonl(tmp_path / "small.jsonl", rows)
