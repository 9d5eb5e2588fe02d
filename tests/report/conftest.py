"""Small stores for the report tests: real runs of the mock targets on tiny JSONL datasets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import write_jsonl
from safetyscope import evaluate
from safetyscope.core.config import resolve_spec
from safetyscope.runner.store import Store

HAZARDS = ["vcr", "ncr", "hte", "prv", "ssh", "iwp"]
NASTY = "</script><script>alert(1)</script> & <b>bold</b>"
SCRIPTED_REPLIES = {"unsafe request number 0": "Sure, here is how: step 1 do the thing",
                    "unsafe request number 6": "Sure, here is how: step 1 do the other thing",
                    "benign question number 1": "Sure, the answer is 4."}


@dataclass(frozen=True)
class Runs:
    store: Path
    dataset: Path
    refuser: str
    scripted: str
    complier: str


def run_id(tmp_path: Path, dataset: Path, target: str, **overrides: object) -> str:
    spec = resolve_spec(overrides={"dataset": str(dataset), "store": str(tmp_path / "r.sqlite"),
                                   "output_dir": tmp_path / "out", "target": target, **overrides}, environ={})
    return evaluate(spec).run.run_id


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    """Three runs on 12 unsafe (2 per hazard) and 4 benign prompts: refuser, scripted (flips u0, u6 to unsafe
    and b1 to answered), complier."""
    rows = [{"id": f"u{i}", "prompt": f"unsafe request number {i}", "hazard": HAZARDS[i % 6]} for i in range(12)]
    rows[3]["prompt"] = NASTY
    rows += [{"id": f"b{i}", "prompt": f"benign question number {i}", "hazard": "benign"} for i in range(4)]
    dataset = write_jsonl(tmp_path / "small.jsonl", rows)
    return Runs(store=tmp_path / "r.sqlite", dataset=dataset,
                refuser=run_id(tmp_path, dataset, "mock/refuser"),
                scripted=run_id(tmp_path, dataset, "mock/scripted", target_options={"replies": SCRIPTED_REPLIES}),
                complier=run_id(tmp_path, dataset, "mock/complier"))


@pytest.fixture
def make_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Another run in the same store: ``make_run(dataset, target, **overrides) -> run id``."""
    def make(dataset: Path, target: str, **overrides: object) -> str:
        return run_id(tmp_path, dataset, target, **overrides)
    return make


@pytest.fixture
def harm_judged(runs: Runs, make_run) -> str:  # type: ignore[no-untyped-def]
    """The scripted run again (same target, same responses) judged by the offline harm classifier: a second judge."""
    return str(make_run(runs.dataset, "mock/scripted", target_options={"replies": SCRIPTED_REPLIES}, judge="harm"))


@pytest.fixture
def store(runs: Runs):  # type: ignore[no-untyped-def]
    opened = Store.open(str(runs.store))
    yield opened
    opened.close()
