"""``safetyscope compare``, ``report``, ``riskcard``, ``leaderboard`` and ``export``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import typer
from rich.console import Console

from safetyscope.api import scorecard_for
from safetyscope.core.config import DEFAULT_OUTPUT_DIR, store_location
from safetyscope.core.errors import UsageError
from safetyscope.metrics.scorecard import Scorecard
from safetyscope.report.attempts import iter_views, resolve_run
from safetyscope.report.compare import compare_runs, markdown_comparison, print_comparison
from safetyscope.report.document import report_dict, report_markdown
from safetyscope.report.export import export_csv, export_parquet
from safetyscope.report.grades import PUBLISHED_REFERENCE, Grades, grade_scorecard, reference_from_scorecard
from safetyscope.report.html import html_report
from safetyscope.report.judge_agreement import judge_agreement
from safetyscope.report.leaderboard import Entry, leaderboard_html, leaderboard_markdown, ranked
from safetyscope.report.riskcard_render import riskcards_html, riskcards_markdown
from safetyscope.report.riskcards import build_cards
from safetyscope.runner.store import Store

STORE_HELP = "SQLite path or database URL (postgresql://…); default OUTPUT_DIR/results.sqlite."
OUTPUT_HELP = "Output file (default for html: OUTPUT_DIR/<run>-report.html; md and json print to stdout)."
REFERENCE_HELP = ("Grade relative to this stored run's per-hazard safe rates (default: the published AILuminate "
                  "v1.0 en_US references).")


@contextmanager
def _opened(location: str | None) -> Iterator[Store]:
    store = Store.open(store_location(location))
    try:
        yield store
    finally:
        store.close()


def grader(store: Store, reference: str | None) -> tuple[dict[str, float] | None, str]:
    """The per-hazard reference safe rates (None = published) and a name for them."""
    if reference is None:
        return None, PUBLISHED_REFERENCE
    run = resolve_run(store, reference)
    return reference_from_scorecard(scorecard_for(store, run)), f"run {run.run_id} ({run.target})"


def grades_of(card: Scorecard, reference: tuple[dict[str, float] | None, str]) -> Grades:
    return grade_scorecard(card, reference[0], reference[1])


def _emit(text: str, output: Path | None, console: Console) -> None:
    if output is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)}, got '{value}'")
    return value


def compare(
    run_a: str = typer.Argument(..., help="Baseline run id (A)."),
    run_b: str = typer.Argument(..., help="Run to compare with the baseline (B)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    store_b: str | None = typer.Option(None, "--store-b", help="Store holding run B, when not the same."),
    output_format: str = typer.Option("terminal", "--format", help="terminal, md or json."),
    reference: str | None = typer.Option(None, help=REFERENCE_HELP),
    output: Path | None = typer.Option(None, help="Write md/json here instead of printing."),
) -> None:
    """Paired comparison of two runs on the prompts both evaluated (McNemar exact + Holm, Δ with intervals)."""
    _check_format(output_format, ("terminal", "md", "json"))
    console = Console()
    with _opened(store) as opened_a, _opened(store_b or store) as opened_b:
        first, second = resolve_run(opened_a, run_a), resolve_run(opened_b, run_b)
        comparison = compare_runs(opened_a, first, second, store_b=opened_b)
        ref = grader(opened_a, reference)
        comparison.grades_a = grades_of(scorecard_for(opened_a, first), ref)
        comparison.grades_b = grades_of(scorecard_for(opened_b, second), ref)
    if output_format == "terminal":
        print_comparison(console, comparison)
    elif output_format == "md":
        _emit(markdown_comparison(comparison), output, console)
    else:
        _emit(orjson.dumps(comparison.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n", output, console)


def report(
    run_id: str | None = typer.Argument(None, help="Run id (default: the latest run in the store)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    output_format: str = typer.Option("html", "--format", help="html, md or json."),
    redact: bool = typer.Option(False, "--redact", help="Leave response text out of the HTML file entirely."),
    reference: str | None = typer.Option(None, help=REFERENCE_HELP),
    output: Path | None = typer.Option(None, help=OUTPUT_HELP),
) -> None:
    """One run's report: an offline HTML file with charts and a sample browser, or Markdown / JSON."""
    _check_format(output_format, ("html", "md", "json"))
    console = Console()
    with _opened(store) as opened:
        run = resolve_run(opened, run_id)
        card = scorecard_for(opened, run)
        grades = grades_of(card, grader(opened, reference))
        agreement = judge_agreement(opened, run)
        if output_format == "html":
            text = html_report(run, card, iter_views(opened, run.run_id), grades=grades, redact=redact,
                               store_url=opened.url, agreement=agreement)
        elif output_format == "md":
            text = report_markdown(run, card, opened.url, grades, agreement)
        else:
            text = orjson.dumps(report_dict(run, card, opened.url, grades, agreement),
                                option=orjson.OPT_INDENT_2).decode()
    if output is None and output_format == "html":
        output = DEFAULT_OUTPUT_DIR / f"{run.run_id}-report.html"
    _emit(text, output, console)


def riskcard(
    run_id: str | None = typer.Argument(None, help="Run id (default: the latest run in the store)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    hazard: str | None = typer.Option(None, "--hazard", help="One canonical hazard code (default: every hazard "
                                      "the run measured)."),
    output_format: str = typer.Option("md", "--format", help="md or html."),
    redact: bool = typer.Option(False, "--redact", help="Withhold model outputs from the example pairs."),
    output: Path | None = typer.Option(None, "--out", "--output", help="Write here (default: md prints to "
                                       "stdout, html goes to OUTPUT_DIR/<run>-riskcards.html)."),
) -> None:
    """Risk cards (RiskCards framework): one per hazard, with taxonomy codes, attacks that worked, examples, rates."""
    _check_format(output_format, ("md", "html"))
    with _opened(store) as opened:
        run = resolve_run(opened, run_id)
        cards = build_cards(run, scorecard_for(opened, run), iter_views(opened, run.run_id), hazard=hazard,
                            redact=redact)
    text = riskcards_markdown(cards) if output_format == "md" else riskcards_html(cards)
    if output is None and output_format == "html":
        output = DEFAULT_OUTPUT_DIR / f"{run.run_id}-riskcards.html"
    _emit(text, output, Console())


def leaderboard(
    run_ids: list[str] = typer.Argument(..., help="Run ids to rank ('latest' for the newest)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    output_format: str = typer.Option("md", "--format", help="md, html or json."),
    reference: str | None = typer.Option(None, help=REFERENCE_HELP),
    output: Path | None = typer.Option(None, help="Write here instead of printing."),
) -> None:
    """Several runs in one table: target, dataset, attack success, over-refusal and AILuminate grade."""
    _check_format(output_format, ("md", "html", "json"))
    with _opened(store) as opened:
        ref = grader(opened, reference)
        entries = []
        for run_id in dict.fromkeys(run_ids):
            run = resolve_run(opened, run_id)
            card = scorecard_for(opened, run)
            entries.append(Entry(run, card, grades_of(card, ref)))
    if output_format == "md":
        text = leaderboard_markdown(entries)
    elif output_format == "html":
        text = leaderboard_html(entries)
    else:
        text = orjson.dumps([entry.as_dict() for entry in ranked(entries)], option=orjson.OPT_INDENT_2).decode()
    _emit(text, output, Console())


def export(
    run_id: str | None = typer.Argument(None, help="Run id (default: the latest run in the store)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    output_format: str = typer.Option("csv", "--format", help="csv or parquet (needs pyarrow)."),
    output: Path | None = typer.Option(None, help="Output file (default: OUTPUT_DIR/<run>.<format>)."),
) -> None:
    """Export one row per attempt: prompt, what was sent, response, verdict and explanation."""
    _check_format(output_format, ("csv", "parquet"))
    with _opened(store) as opened:
        run = resolve_run(opened, run_id)
        path = output or DEFAULT_OUTPUT_DIR / f"{run.run_id}.{output_format}"
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = export_csv if output_format == "csv" else export_parquet
        count = writer(run.run_id, iter_views(opened, run.run_id), path)
    Console().print(f"wrote {count} attempts to {path}")
