"""The report commands through typer: compare, report, leaderboard, export."""

import csv

import orjson
import pytest
import typer
from typer.testing import CliRunner

from safetyscope.cli import report_cmd
from safetyscope.core.errors import PrerequisiteError, UsageError

app = typer.Typer()
for _name in ("compare", "report", "leaderboard", "export"):
    app.command(_name)(getattr(report_cmd, _name))


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)


def test_compare_terminal_md_json(runs):
    result = invoke("compare", runs.refuser, runs.scripted, "--store", runs.store)
    assert result.exit_code == 0, result.output
    assert "Flipped prompts: 2 worse in B, 1 better" in result.output
    md = invoke("compare", runs.refuser, runs.scripted, "--store", runs.store, "--format", "md").output
    assert "| Overall |" in md and "Excellent (5)" in md
    data = orjson.loads(invoke("compare", runs.refuser, runs.scripted, "--store", runs.store, "--format", "json",
                               "--reference", runs.complier).output)
    assert data["grades_b"]["reference"].startswith("run ") and len(data["flips"]) == 3


def test_report_formats(runs, tmp_path):
    out = tmp_path / "r.html"
    assert invoke("report", "--store", runs.store, "--output", out).exit_code == 0
    assert runs.complier in out.read_text()  # latest run by default
    md = invoke("report", runs.scripted, "--store", runs.store, "--format", "md").output
    assert "## AILuminate grades" in md and "| Overall |" in md
    data = orjson.loads(invoke("report", runs.scripted, "--store", runs.store, "--format", "json").output)
    assert data["grades"]["hazards"]["vcr"]["grade_name"] == "Poor"
    redacted = tmp_path / "redacted.html"
    invoke("report", runs.scripted, "--store", runs.store, "--redact", "--output", redacted)
    assert "Sure, here is how" not in redacted.read_text()


def test_leaderboard(runs, tmp_path):
    md = invoke("leaderboard", runs.complier, runs.refuser, runs.scripted, "--store", runs.store).output
    ranks = [line.split("|")[3].strip() for line in md.splitlines() if line.startswith("| 1") or
             line.startswith("| 2") or line.startswith("| 3")]
    assert ranks == ["`mock/refuser`", "`mock/scripted`", "`mock/complier`"]
    assert "Poor (1)" in md and "Excellent (5)" in md
    page = tmp_path / "board.html"
    invoke("leaderboard", runs.refuser, "latest", "--store", runs.store, "--format", "html", "--output", page)
    assert page.read_text().count("<tr>") == 3


def test_export_csv_and_parquet(runs, tmp_path):
    out = tmp_path / "x.csv"
    result = invoke("export", runs.scripted, "--store", runs.store, "--output", out)
    assert "wrote 16 attempts" in result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16 and {row["run_id"] for row in rows} == {runs.scripted}
    assert any("<script>" in row["prompt"] for row in rows)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        with pytest.raises(PrerequisiteError, match="pyarrow"):
            invoke("export", runs.scripted, "--store", runs.store, "--format", "parquet", "--output",
                   tmp_path / "x.parquet")
        return
    invoke("export", runs.scripted, "--store", runs.store, "--format", "parquet", "--output", tmp_path / "x.pq")
    assert pq.read_table(tmp_path / "x.pq").num_rows == 16


def test_bad_inputs(runs):
    with pytest.raises(UsageError, match="--format"):
        invoke("report", "--store", runs.store, "--format", "pdf")
    with pytest.raises(UsageError, match="no run 'nope'"):
        invoke("compare", "nope", runs.refuser, "--store", runs.store)
