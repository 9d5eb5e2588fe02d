"""``safetyscope list targets|datasets|judges|attacks``."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from safetyscope.attacks import attacks
from safetyscope.core.builtins import load_components
from safetyscope.datasets import builtin_datasets
from safetyscope.judges import judges
from safetyscope.targets import target_providers


class Kind(StrEnum):
    targets = "targets"
    datasets = "datasets"
    judges = "judges"
    attacks = "attacks"


def list_components(kind: Kind = typer.Argument(..., help="targets, datasets, judges or attacks")) -> None:
    """Show registered components with a one-line purpose each."""
    load_components()
    table = Table(title=f"safetyscope {kind.value}")
    table.add_column("name")
    table.add_column("purpose")
    rows: list[tuple[str, str]]
    if kind is Kind.targets:
        rows = [(f"{entry.name}/…", entry.description) for entry in target_providers]
    elif kind is Kind.datasets:
        rows = [(suite.name, suite.description) for suite in builtin_datasets.values()]
        rows.append(("NAME[:SUBSET]", "A public benchmark in its own format (xstest, harmbench, s-eval, …): "
                                      "see `safetyscope data list`."))
        rows.append(("PATH.jsonl / PATH.csv", "Your own file in the documented schema (docs/datasets.md)."))
    elif kind is Kind.judges:
        rows = [(entry.name, entry.description) for entry in judges]
    else:
        rows = [(entry.name, entry.description) for entry in attacks]
    for name, purpose in rows:
        table.add_row(name, purpose)
    Console().print(table)
