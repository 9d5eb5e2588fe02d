"""``safetyscope list targets|datasets|judges|attacks``."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from safetyscope.attacks import attacks
from safetyscope.datasets import builtin_datasets
from safetyscope.core.builtins import load_components
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
    if kind is Kind.targets:
        for entry in target_providers:
            table.add_row(f"{entry.name}/…", entry.description)
    elif kind is Kind.datasets:
        for suite in builtin_datasets.values():
            table.add_row(suite.name, suite.description)
        table.add_row("PATH.jsonl / PATH.csv", "Your own file in the documented schema (docs/datasets.md).")
    elif kind is Kind.judges:
        for entry in judges:
            table.add_row(entry.name, entry.description)
    else:
        for entry in attacks:
            table.add_row(entry.name, entry.description)
    Console().print(table)
