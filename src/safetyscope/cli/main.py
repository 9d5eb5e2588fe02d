"""Entry point: ``safetyscope COMMAND``. Each command group lives in its own module."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from safetyscope.cli import list_cmd, report_cmd, run_cmd
from safetyscope.cli.data_cmd import data_app
from safetyscope.cli.guard_cmd import guard_app
from safetyscope.cli.judge_cmd import judge_app
from safetyscope.cli.taxonomy_cmd import taxonomy_app
from safetyscope.core.errors import SafetyscopeError

app = typer.Typer(name="safetyscope", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Measure and guard the safety of large language models.")
app.command("run", help="Evaluate a model on a safety suite and print its scorecard.")(run_cmd.run)
app.command("scorecard", help="Print the scorecard of a stored run (default: the latest).")(run_cmd.scorecard)
app.command("runs", help="List the runs in a store.")(run_cmd.runs)
app.command("report", help="One run's report: offline HTML, Markdown or JSON.")(report_cmd.report)
app.command("compare", help="Paired comparison of two runs: McNemar + Holm, deltas, flipped prompts.")(
    report_cmd.compare)
app.command("leaderboard", help="Several runs ranked in one table.")(report_cmd.leaderboard)
app.command("export", help="One row per attempt as CSV or Parquet.")(report_cmd.export)
app.command("riskcard", help="Risk cards per hazard of a run (RiskCards): Markdown or HTML.")(report_cmd.riskcard)
app.command("list", help="Show what is registered: targets, datasets, judges or attacks.")(list_cmd.list_components)
app.add_typer(data_app, name="data", help="Datasets: built-in suites, public benchmarks, labelled judge sets.")
app.add_typer(guard_app, name="guard", help="Runtime guard: HTTP service, policies, review queue, calibration.")
app.add_typer(judge_app, name="judge", help="Measure judges on human-labelled responses.")
app.add_typer(taxonomy_app, name="taxonomy", help="Hazard taxonomies and the crosswalk to the canonical hazards.")


def main() -> None:
    """Console-script entry. Usage errors exit 2 (click's standalone mode); user-fixable safetyscope errors
    print one line and exit with their code (2 for bad input); Ctrl-C exits 130."""
    try:
        app()
    except SafetyscopeError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
