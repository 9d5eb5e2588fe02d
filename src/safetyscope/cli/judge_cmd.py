"""``safetyscope judge eval``: measure a judge on human labels and store the result for corrected reports."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from safetyscope.cli.run_cmd import parse_options
from safetyscope.core.config import DEFAULT_OUTPUT_DIR, store_location
from safetyscope.core.database import utc_now
from safetyscope.core.hashing import content_hash
from safetyscope.datasets import open_labelled_set
from safetyscope.judges import create_judge
from safetyscope.judges.validation import JudgeEvaluation, judge_items, summarise
from safetyscope.runner.store import Store, ValidationRow

PROMPT_SIDE_OPTIONS: dict[str, dict[str, Any]] = {"prompt-harm": {"prompt_only": True}, "guard": {"direction": "input"}}
"""Options that make a judge read the prompt alone, applied to prompt-side labelled sets unless given."""
IN_SAMPLE: dict[str, tuple[str, ...]] = {
    "harm": ("harmbench-val",), "harm-embed": ("harmbench-val",), "exchange-harm": ("harmbench-val",),
    "guard": ("harmbench-val",),
    "refusal": ("xstest-completions", "xstest-completions:llama2orig", "xstest-completions:llama2new",
                "xstest-completions:mistralguard"),
}
"""Labelled sets (or parts) each offline judge was trained on (its weights file's ``meta.trained_on``)."""


def in_sample(judge: str, labels: str) -> str | None:
    """The labelled set when ``judge`` was trained on (part of) it, else None."""
    return labels if labels in IN_SAMPLE.get(judge, ()) else None


judge_app = typer.Typer(no_args_is_help=True, help="Measure judges on human-labelled responses.")


@judge_app.command("eval", help="Measure a judge on a labelled set; store it so reports correct for its errors.")
def eval_judge(
    judge: str = typer.Option("refusal", help="Judge name (see `safetyscope list judges`)."),
    labels: str = typer.Option(..., help="Labelled set: xstest-completions[:MODEL], harmbench-val, beavertails."),
    path: Path | None = typer.Option(None, help="Local file or folder of the labelled set."),
    limit: int | None = typer.Option(None, min=1, help="A seeded uniform sample of N items."),
    seed: int = typer.Option(0, help="Sampling seed."),
    concurrency: int = typer.Option(8, min=1, help="Judge calls in flight (model judges)."),
    store: str | None = typer.Option(None, help="Where validations are stored; default OUTPUT_DIR/results.sqlite."),
    output_dir: Path = typer.Option(DEFAULT_OUTPUT_DIR, help="Where the JSON report is written."),
    judge_option: list[str] | None = typer.Option(None, "--judge-option", help="Judge option KEY=VALUE (repeat)."),
) -> None:
    labelled = open_labelled_set(labels, path=path)
    labelled.validate()
    items = list(labelled.select(limit=limit, seed=seed))
    options = parse_options(judge_option, "--judge-option") or {}
    if items and items[0].side == "prompt":  # the prompt alone is judged: point judges that can at the prompt
        options = {**PROMPT_SIDE_OPTIONS.get(judge, {}), **options}
    built = create_judge(judge, options)
    judged = asyncio.run(judge_items(built, items, concurrency=concurrency))
    evaluation = summarise(judge, labels, judged)
    trained_on = in_sample(judge, labels)
    matrix = evaluation.agreement.confusion
    row = ValidationRow(validation_id=f"{utc_now()[:19].replace(':', '')}-{secrets.token_hex(3)}",
                        created_at=utc_now(), judge=judge, judge_key=content_hash(built.spec), labels=labels,
                        positive=evaluation.positive, tp=matrix.tp, fp=matrix.fp, fn=matrix.fn, tn=matrix.tn,
                        unscored=evaluation.agreement.n_unscored,
                        report={**evaluation.as_dict(), "judge_options": options, "in_sample": trained_on is not None})
    opened = Store.open(store_location(store, output_dir))
    try:
        opened.add_validation(row)
    finally:
        opened.close()
    output_dir.mkdir(parents=True, exist_ok=True)
    report_path = output_dir / f"judge-eval-{row.validation_id}.json"
    report_path.write_bytes(orjson.dumps(row.report, option=orjson.OPT_INDENT_2))
    console = Console()
    console.print(_table(evaluation))
    console.print(f"positive = {evaluation.positive}")
    if trained_on:
        console.print(f"[yellow]warning:[/] '{judge}' was trained on {trained_on}: these figures are in-sample "
                      "(optimistic), and a correction built on them is too narrow; measure on data it never saw.")
    effect = ("runs judged by this exact judge now report judge-corrected attack success"
              if evaluation.side == "response" else "prompt-side labels: not used to correct runs' attack success")
    console.print(f"stored validation {row.validation_id}; {effect}.\nreport: {report_path}")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _table(evaluation: JudgeEvaluation) -> Table:
    a = evaluation.agreement
    table = Table(title=f"judge '{evaluation.judge}' on {evaluation.labels} (human labels)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    low, high = a.accuracy_ci or (None, None)
    rows = [("items", str(a.n)), ("unscored", f"{a.n_unscored} ({_fmt(a.unscored_rate)})"),
            ("accuracy", f"{_fmt(a.accuracy)} [{_fmt(low)}–{_fmt(high)}]"),
            ("accuracy, unscored counted wrong", _fmt(a.worst_case_accuracy)),
            ("precision", _fmt(a.precision)), ("recall / sensitivity", _fmt(a.recall)),
            ("specificity", _fmt(a.specificity)), ("F1", _fmt(a.f1)), ("Cohen's κ", _fmt(a.kappa)),
            ("AUPRC", _fmt(a.auprc)),
            ("confusion (tp fp fn tn)", f"{a.confusion.tp} {a.confusion.fp} {a.confusion.fn} {a.confusion.tn}")]
    if evaluation.three_way is not None:
        rows += [("3-way accuracy (complied/partial/refused)", _fmt(evaluation.three_way.accuracy)),
                 ("3-way κ", _fmt(evaluation.three_way.kappa))]
    for reason, count in evaluation.unscored_reasons.items():
        rows.append((f"unscored: {reason}", str(count)))
    for name, value in rows:
        table.add_row(name, value)
    return table
