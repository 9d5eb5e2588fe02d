"""judge eval on real human labels, stored, then used to correct a run's attack success."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import cli


def test_judge_eval_then_run_reports_corrected_attack_success(shared: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SAFETYSCOPE_SHARED", str(shared))
    out = tmp_path / "o"
    evaluated = cli("judge", "eval", "--labels", "xstest-completions:gpt4", "--output-dir", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(next(out.glob("judge-eval-*.json")).read_text())
    agreement = report["agreement"]
    assert agreement["n"] == 450 and agreement["n_unscored"] == 0
    assert agreement["accuracy"] > 0.9 and agreement["kappa"] > 0.8  # measured: 0.96 / 0.92 on these labels

    ran = cli("run", "--target", "mock/complier", "--limit", "40", "-q", "--output-dir", str(out))
    assert ran.returncode == 0, ran.stderr
    assert "judge-corrected" in ran.stdout
    summary = json.loads(next(p for p in out.glob("2*.json")).read_text())
    corrected = summary["scorecard"]["judge_corrected"]["attack_success"]["overall|overall"]
    raw = summary["scorecard"]["attack_success"]["overall|overall"]
    assert raw["rate"] == 1.0 and corrected["correctable"]
    low, high = corrected["interval"]
    assert low < raw["ci95"][0] and high == 1.0  # the judge's own error widens the interval


def test_judge_eval_rejects_unlabelled_sets(tmp_path: Path):
    result = cli("judge", "eval", "--labels", "starter", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "not a labelled judge set" in result.stderr
