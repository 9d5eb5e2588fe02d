"""The command line as a user meets it: help, listings, a run, bad input and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import cli, write_jsonl


def test_help_lists_every_command_with_a_purpose():
    out = cli("--help").stdout
    for command in ("run", "scorecard", "runs", "list"):
        assert command in out


def test_list_shows_registered_components():
    assert "embedded/…" in cli("list", "targets").stdout and "mock/…" in cli("list", "targets").stdout
    assert "starter" in cli("list", "datasets").stdout
    assert "refusal" in cli("list", "judges").stdout
    assert "none" in cli("list", "attacks").stdout


def test_run_writes_store_and_summaries_and_prints_scorecard(tmp_path: Path):
    result = cli("run", "--target", "mock/complier", "--limit", "30", "-q", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "Overall" in result.stdout and "over-refusal" in result.stdout and "Unscored: 0 of 30" in result.stdout
    summaries = list((tmp_path / "o").glob("*.json"))
    assert len(summaries) == 1 and (tmp_path / "o" / "results.sqlite").exists()
    summary = json.loads(summaries[0].read_text())
    assert summary["status"] == "complete" and summary["scorecard"]["total_attempts"] == 30
    again = cli("scorecard", "--store", str(tmp_path / "o" / "results.sqlite"))
    assert again.returncode == 0 and "Overall" in again.stdout


def test_spec_file_with_flag_override(tmp_path: Path):
    spec = tmp_path / "run.yaml"
    spec.write_text(f"target: mock/refuser\nlimit: 50\noutput_dir: {tmp_path / 'o'}\n")
    result = cli("run", "--spec", str(spec), "--limit", "7", "-q")
    assert result.returncode == 0, result.stderr
    summary = json.loads(next((tmp_path / "o").glob("*.json")).read_text())
    assert summary["target"] == "mock/refuser" and summary["scorecard"]["total_attempts"] == 7


def test_malformed_dataset_exits_2_names_line_and_writes_nothing(tmp_path: Path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "prompt": "p", "hazard": "vcr"},
                                               {"id": "2", "prompt": "p", "hazard": "nope"}])
    result = cli("run", "--target", "mock/refuser", "--dataset", str(bad), "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "bad.jsonl, line 2, field 'hazard'" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "o").glob("*.json"))
    runs = cli("runs", "--store", str(tmp_path / "o" / "results.sqlite"))
    assert runs.stdout.strip() == ""  # no run was created


def test_bad_flags_are_usage_errors(tmp_path: Path):
    assert cli("run", "--limit", "0").returncode == 2
    assert cli("run", "--no-such-flag").returncode == 2
    unknown = cli("run", "--target", "nosuch/model", "--output-dir", str(tmp_path))
    assert unknown.returncode == 2 and "unknown target provider 'nosuch'" in unknown.stderr
    bad_target = cli("run", "--target", "no-slash", "--output-dir", str(tmp_path))
    assert bad_target.returncode == 2 and "provider/name" in bad_target.stderr


def test_unreachable_target_is_reported_and_resumable(tmp_path: Path):
    result = cli("run", "--target", "openai/m", "--base-url", "http://127.0.0.1:9/v1", "--limit", "20", "-q",
                 "--retries", "1", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "incomplete" in result.stdout and "consecutive failed target calls" in result.stdout
    run_id = json.loads(next((tmp_path / "o").glob("*.json")).read_text())["run_id"]
    listed = cli("runs", "--store", str(tmp_path / "o" / "results.sqlite")).stdout
    assert run_id in listed and "incomplete" in listed
