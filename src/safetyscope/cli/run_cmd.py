"""``safetyscope run``, ``scorecard`` and ``runs``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from safetyscope.api import evaluate, scorecard_for
from safetyscope.core.config import load_spec_file, resolve_spec, store_location
from safetyscope.core.errors import UsageError
from safetyscope.report.terminal import print_scorecard
from safetyscope.runner.store import Store
from safetyscope.taxonomy import TaxonomyCatalog

STORE_HELP = "SQLite path or database URL (postgresql://…); default OUTPUT_DIR/results.sqlite."


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, Any] | None:
    """``KEY=VALUE`` flags as a mapping (values read as YAML scalars); None when none were given."""
    if not pairs:
        return None
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got '{pair}'")
        options[key.strip()] = yaml.safe_load(value)
    return options


def run(
    spec_file: Path | None = typer.Option(None, "--spec", help="YAML run spec; flags override its fields."),
    target: str | None = typer.Option(None, help="provider/name, e.g. embedded/smollm2-135m, openai/gpt-4o-mini."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible server, e.g. http://host:8000/v1."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key."),
    target_option: list[str] | None = typer.Option(None, "--target-option", help="KEY=VALUE for the target."),
    dataset: str | None = typer.Option(None, help="Built-in suite (starter), named benchmark (xstest, "
                                       "harmbench:contextual, …; see `safetyscope data list`) or a .jsonl/.csv file."),
    limit: int | None = typer.Option(None, min=1, help="Evaluate a seeded uniform sample of N items."),
    per_hazard: int | None = typer.Option(None, "--per-hazard", min=1,
                                          help="Evaluate N seeded-uniform items per hazard (benign is a stratum)."),
    seed: int | None = typer.Option(None, help="Seed for sampling and attacks."),
    attack: list[str] | None = typer.Option(None, help="Attack spec (repeat or comma-separate; a+b composes)."),
    attack_option: list[str] | None = typer.Option(None, "--attack-option",
                                                   help="ATTACK.KEY=VALUE, e.g. pair.budget=4."),
    judge: str | None = typer.Option(None, help="Judge name (see `safetyscope list judges`)."),
    max_tokens: int | None = typer.Option(None, min=1, help="Max generated tokens per reply."),
    temperature: float | None = typer.Option(None, min=0.0, help="Sampling temperature (0 = greedy)."),
    system_prompt: str | None = typer.Option(None, help="System prompt prepended to every conversation."),
    requests_in_flight: int | None = typer.Option(None, min=1, help="Concurrent target calls."),
    samples_in_flight: int | None = typer.Option(None, min=1, help="Samples processed at once."),
    timeout: float | None = typer.Option(None, min=0.001, help="Per-call timeout in seconds."),
    retries: int | None = typer.Option(None, min=0, help="Retries on 429, 5xx, timeouts, connection errors."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    output_dir: Path | None = typer.Option(None, help="Where the JSON and Markdown summaries go."),
    name: str | None = typer.Option(None, help="A label for the run."),
    resume: str | None = typer.Option(None, help="Continue a stopped run (an id, or 'latest'); "
                                      "done calls are never repeated."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    taxonomy: str | None = typer.Option(None, help="Also show attack success in this taxonomy (e.g. llama-guard-3)."),
) -> None:
    """Evaluate a model. With no arguments: the embedded SmolLM2-135M on the built-in starter suite."""
    generation = {key: value for key, value in {"max_tokens": max_tokens, "temperature": temperature,
                                                "system_prompt": system_prompt, "seed": seed}.items()
                  if value is not None}
    overrides: dict[str, Any] = {
        "target": target, "base_url": base_url, "api_key_env": api_key_env,
        "target_options": parse_options(target_option, "--target-option"), "dataset": dataset, "limit": limit,
        "per_hazard": per_hazard,
        "seed": seed, "attacks": _split_attacks(attack), "attack_options": _attack_options(attack_option),
        "judge": judge, "generation": generation or None,
        "requests_in_flight": requests_in_flight, "samples_in_flight": samples_in_flight, "timeout_s": timeout,
        "max_retries": retries, "store": store, "output_dir": output_dir, "name": name,
    }
    if taxonomy is not None:
        TaxonomyCatalog().load(taxonomy)  # an unknown name fails now, not after the run
    file_values = load_spec_file(spec_file) if spec_file else None
    spec = resolve_spec(file_values=file_values, overrides=overrides,
                        source=str(spec_file) if spec_file else "command line")
    console = Console()
    with _progress_bar(console, disabled=quiet) as report:
        result = evaluate(spec, resume=resume, progress=None if quiet else report,
                          **({key: value for key, value in overrides.items() if value is not None} if resume else {}))
    print_scorecard(console, result.run, result.scorecard, taxonomy=taxonomy)
    stats = result.stats
    console.print(f"run [bold]{result.run.run_id}[/] {result.run.status}: {stats.finished} scored this session "
                  f"({stats.target_calls} target calls, {stats.cached_responses} reused), {stats.errors} errors"
                  + (f" ({stats.attack_errors} attack errors)" if stats.attack_errors else "") + ", "
                  f"{stats.resumed} already done")
    if result.run.note:
        console.print(f"[yellow]{result.run.note}[/]")
    console.print(f"store: {result.store_url}\nsummary: {result.summary.json} and {result.summary.markdown}")
    if result.run.status != "complete":
        raise typer.Exit(code=1)


def _attack_options(values: list[str] | None) -> dict[str, dict[str, Any]] | None:
    """``pair.budget=4`` → ``{"pair": {"budget": 4}}``."""
    if not values:
        return None
    options: dict[str, dict[str, Any]] = {}
    for key, value in (parse_options(values, "--attack-option") or {}).items():
        attack, sep, option = key.partition(".")
        if not sep or not attack or not option:
            raise UsageError(f"--attack-option expects ATTACK.KEY=VALUE (e.g. pair.budget=4), got '{key}'")
        options.setdefault(attack, {})[option] = value
    return options


def _split_attacks(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class _progress_bar:
    """A rich progress bar with rate and ETA; the planned total arrives with the first update."""

    def __init__(self, console: Console, *, disabled: bool) -> None:
        self._progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                  TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(),
                                  TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=disabled,
                                  transient=False)
        self._task = self._progress.add_task("evaluating", total=None, rate="", errors=0)
        self._started = time.perf_counter()

    def __enter__(self) -> _progress_bar:
        self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._progress.stop()

    def __call__(self, done: int, errors: int, planned: int) -> None:
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        self._progress.update(self._task, completed=done, total=planned, errors=errors,
                              rate=f"{done / elapsed:.1f}/s")


def scorecard(
    run_id: str | None = typer.Argument(None, help="Run id (default: the latest run in the store)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
    taxonomy: str | None = typer.Option(None, help="Also show attack success in this taxonomy (e.g. llama-guard-3)."),
) -> None:
    """Print the scorecard of a stored run."""
    opened = Store.open(store_location(store))
    try:
        runs_found = opened.list_runs()
        if not runs_found:
            raise UsageError(f"no runs in store {opened.url}")
        run = next((r for r in runs_found if r.run_id == run_id), None) if run_id else runs_found[-1]
        if run is None:
            raise UsageError(f"no run '{run_id}' in store {opened.url}")
        print_scorecard(Console(), run, scorecard_for(opened, run), taxonomy=taxonomy)
    finally:
        opened.close()


def runs(store: str | None = typer.Option(None, help=STORE_HELP)) -> None:
    """List stored runs, oldest first."""
    opened = Store.open(store_location(store))
    try:
        console = Console()
        for run in opened.list_runs():
            console.print(f"{run.run_id}  {run.status:<10}  {run.target}  {run.dataset}  {run.judge}  "
                          f"planned={run.planned}" + (f"  ({run.note})" if run.note else ""))
    finally:
        opened.close()
