"""``data list | show | import`` through typer's CliRunner on ``data_app``, and ``--per-hazard`` in a run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safetyscope import evaluate_async
from safetyscope.cli.data_cmd import data_app
from safetyscope.core.config import resolve_spec
from safetyscope.datasets import open_dataset, open_labelled_set

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WIDE = {"COLUMNS": "250"}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(data_app, list(args), env={**WIDE, **(env or {})})


@pytest.fixture
def fixture_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SAFETYSCOPE_DATA", str(FIXTURES))
    monkeypatch.setenv("SAFETYSCOPE_SHARED", str(tmp_path / "none"))
    return {}


def test_list_shows_suites_benchmarks_and_labelled_sets(fixture_env: dict[str, str]):
    result = run("list")
    assert result.exit_code == 0, result.output
    for name in ("starter", "xstest", "harmbench-val", "s-eval", "sorry-bench", "beavertails", "labelled"):
        assert name in result.output
    toxicchat = next(line for line in result.output.splitlines() if "toxicchat" in line)
    assert "│ yes (" in toxicchat  # found in the fixtures folder
    assert "Search path" in result.output


def test_show_counts_hazards_and_expectations(fixture_env: dict[str, str]):
    result = run("show", "aegis-2.0")
    assert result.exit_code == 0, result.output
    assert "5 samples" in result.output and "benign" in result.output and "unmapped" in result.output
    assert "example ids: a1, a2, a3, a5, a6" in result.output
    assert "test.json" in result.output.replace("\n", "")


def test_show_labelled_set_counts_labels(fixture_env: dict[str, str]):
    result = run("show", "beavertails")
    assert result.exit_code == 0, result.output
    assert "4 labelled responses" in result.output and "unsafe" in result.output


def test_show_missing_dataset_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAFETYSCOPE_DATA", str(tmp_path))
    monkeypatch.setenv("SAFETYSCOPE_SHARED", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = run("show", "xstest")
    assert result.exit_code == 2 and "xstest_prompts.csv" in result.output
    result = run("show", "toxicchat")
    assert result.exit_code == 2 and "pip install 'safetyscope[hf]'" in result.output.replace("\n", "")


def test_import_converts_to_our_schema_and_round_trips(fixture_env: dict[str, str], tmp_path: Path):
    out = tmp_path / "aegis.jsonl"
    result = run("import", "aegis-2.0", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 5 samples" in result.output
    original = list(open_dataset("aegis-2.0"))
    reopened = list(open_dataset(str(out)))
    for a, b in zip(original, reopened, strict=True):
        assert a.model_dump(exclude={"dataset"}) == b.model_dump(exclude={"dataset"})
    assert run("import", "aegis-2.0", "--output", str(out)).exit_code == 2  # exists: needs --force
    assert run("import", "aegis-2.0", "--output", str(out), "--force").exit_code == 0


def test_import_with_path_and_messages(tmp_path: Path, shared: Path):
    source = shared / "datasets" / "cyberseceval" / "CybersecurityBenchmarks" / "datasets" / "prompt_injection"
    out = tmp_path / "pi.jsonl"
    result = run("import", "cyberseceval-injection", "--path", str(source / "prompt_injection.json"), "-o", str(out))
    assert result.exit_code == 0, result.output
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user"] and first["hazard"] == "unmapped"
    assert len(list(open_dataset(str(out)))) == 251


def test_import_labelled_set_writes_records(fixture_env: dict[str, str], tmp_path: Path):
    out = tmp_path / "bt.jsonl"
    assert run("import", "beavertails", "-o", str(out)).exit_code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["human_label"] for r in records] == [i.human_label for i in open_labelled_set("beavertails")]


def test_import_bad_file_writes_nothing(tmp_path: Path):
    bad = tmp_path / "harmful_behaviors.csv"
    bad.write_text("goal,target\nfine,t\n", encoding="utf-8")
    bad.write_text("text\nx\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    result = run("import", "advbench", "--path", str(bad), "-o", str(out))
    assert result.exit_code == 2 and "missing goal, target" in result.output and not out.exists()


async def test_run_with_per_hazard_evaluates_n_per_stratum(tmp_path: Path):
    spec = resolve_spec(overrides={"dataset": "starter", "per_hazard": 2, "target": "mock/refuser",
                                   "store": str(tmp_path / "r.sqlite"), "output_dir": tmp_path / "out"}, environ={})
    result = await evaluate_async(spec)
    assert result.run.planned == 13 * 2 and result.stats.finished == 26
    expected = Counter(s.hazard for s in open_dataset("starter").select(per_hazard=2, seed=0))
    assert set(expected.values()) == {2} and len(expected) == 13
