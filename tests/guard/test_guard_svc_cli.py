"""The ``guard`` CLI: default policy, calibrate, review list/resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from safetyscope.cli.guard_cmd import guard_app
from safetyscope.core.records import Message
from safetyscope.guard import GuardEngine, GuardStore, load_policy
from safetyscope.guard.policy import parse_policy

runner = CliRunner()
MOCK_EXPERT = {"name": "lg3", "judge": "llama-guard-3", "timeout_s": 5,
               "options": {"side": "prompt", "target": "mock/scripted",
                           "target_options": {"default_reply": "unsafe\nS1"}}}


def test_policy_prints_the_default() -> None:
    result = runner.invoke(guard_app, ["policy"])
    assert result.exit_code == 0
    assert parse_policy(yaml.safe_load(result.output)).experts[0].judge == "prompt-harm"


def test_calibrate_writes_a_conformal_policy(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump({"name": "cal", "experts": [MOCK_EXPERT]}), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    rows = [{"prompt": f"item {i}", "label": "unsafe" if i % 3 else "safe"} for i in range(30)]
    labels.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    out = tmp_path / "calibrated.yaml"
    result = runner.invoke(guard_app, ["calibrate", "--labels", str(labels), "--alpha", "0.2", "--policy",
                                       str(policy), "--output", str(out), "--store", str(tmp_path / "g.sqlite")])
    assert result.exit_code == 0, result.output
    calibrated = load_policy(out)
    assert calibrated.conformal is not None and calibrated.conformal.n == 30 and calibrated.conformal.alpha == 0.2
    labels.write_text('{"prompt": "x"}\n', encoding="utf-8")
    bad = runner.invoke(guard_app, ["calibrate", "--labels", str(labels), "--output", str(out)])
    assert bad.exit_code != 0


async def test_review_list_and_resolve(tmp_path: Path) -> None:
    location = str(tmp_path / "g.sqlite")
    store = GuardStore.open(location)
    policy = parse_policy({"name": "rev", "experts": [MOCK_EXPERT], "conformal": {"alpha": 0.1, "q": 1.0, "n": 5}})
    engine = GuardEngine(policy, store)
    decision = await engine.check([Message(role="user", content="something borderline")])
    await engine.aclose()
    store.close()
    assert decision.action == "review"
    listed = runner.invoke(guard_app, ["review", "list", "--store", location], env={"COLUMNS": "240"})
    assert listed.exit_code == 0 and decision.decision_id in listed.output and "1 awaiting review" in listed.output
    resolved = runner.invoke(guard_app, ["review", "resolve", decision.decision_id, "--label", "unsafe",
                                         "--store", location])
    assert resolved.exit_code == 0 and "lg3=1.000" in resolved.output
    after = runner.invoke(guard_app, ["review", "list", "--store", location], env={"COLUMNS": "240"})
    assert "0 awaiting review" in after.output


def test_calibrate_on_human_labels_by_name_checks_coverage_on_a_held_out_half(shared: Path, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """harmbench-val (602 human-labelled completions) through the default policy's output expert: the held-out
    coverage must reach 1 − α within three standard errors (the guarantee holds for any scorer)."""
    monkeypatch.setenv("SAFETYSCOPE_SHARED", str(shared))
    out = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(guard_app, ["calibrate", "--labels", "harmbench-val", "--alpha", "0.1", "--holdout",
                                            "0.5", "--seed", "1", "--output", str(out),
                                            "--store", str(tmp_path / "g.sqlite")])
    assert result.exit_code == 0, result.output
    assert load_policy(out).conformal.n == 301
    held = re.search(r"held out (\d+) items .*coverage ([0-9.]+) .*standard error ([0-9.]+)\); review rate ([0-9.]+)%",
                     result.output)
    assert held is not None, result.output
    n, coverage, error, review = int(held[1]), float(held[2]), float(held[3]), float(held[4])
    assert n == 301 and coverage >= 0.9 - 3 * error and 0.0 < review < 100.0
    refusal_labels = CliRunner().invoke(guard_app, ["calibrate", "--labels", "xstest-completions", "--output",
                                                    str(out), "--store", str(tmp_path / "g.sqlite")])
    assert refusal_labels.exit_code != 0 and "refusal labels" in str(refusal_labels.exception)
