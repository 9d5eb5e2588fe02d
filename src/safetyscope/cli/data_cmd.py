"""``safetyscope data list | show NAME | import NAME``: the datasets safetyscope can open by name.

The group is exported as ``data_app``; ``cli/main.py`` mounts it with ``app.add_typer(data_app, name="data")``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safetyscope.core.errors import SafetyscopeError, UsageError
from safetyscope.core.records import Sample
from safetyscope.datasets import (
    BaseLabelledSet,
    DatasetFile,
    LabelledResponse,
    builtin_datasets,
    find_named,
    named_datasets,
    open_dataset,
    open_named,
    search_roots,
)
from safetyscope.datasets.base import BaseCollection
from safetyscope.datasets.named import hf_available

data_app = typer.Typer(name="data", no_args_is_help=True, add_completion=False,
                       help="Datasets by name: built-in suites, public benchmarks and labelled judge sets.")

EXAMPLES = 5


def _fail(exc: SafetyscopeError) -> typer.Exit:
    # escape: messages hold literal brackets (pip install 'safetyscope[hf]') that rich would read as markup
    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def _open(name: str, path: Path | None) -> BaseCollection[Any]:
    """A suite, benchmark, labelled set or schema file."""
    named = find_named(name)
    if named is not None:
        return open_named(named[0], named[1], path=path)
    if path is not None:
        raise UsageError(f"--path applies to named benchmarks; '{name}' is not one (see `safetyscope data list`)")
    return open_dataset(name)


@data_app.command("list")
def list_cmd() -> None:
    """List built-in suites, named benchmarks and labelled judge sets, and whether each was found."""
    roots = search_roots()
    console = Console()
    table = Table(title="safetyscope datasets")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("rows", justify="right")
    table.add_column("found", overflow="fold")
    table.add_column("subsets", overflow="fold")
    for suite in builtin_datasets.values():
        table.add_row(suite.name, "suite", "", "built in", "")
    hf = hf_available()
    for entry in named_datasets():
        found = entry.locate(None, roots)
        if found is not None:
            where = f"yes ({found[1].parent})"
        elif entry.hf is not None:
            where = "[yellow]no[/] (fetchable from Hugging Face)" if hf else f"[red]no[/] (HF: {entry.hf.repo})"
        else:
            where = "[red]no[/]"
        names = entry.name + (f" ({', '.join(entry.aliases)})" if entry.aliases else "")
        subsets = ", ".join(entry.subsets[:4]) + (f", … ({len(entry.subsets)})" if len(entry.subsets) > 4 else "")
        table.add_row(names, entry.kind, entry.rows, where, subsets)
    console.print(table)
    console.print("Search path: " + "; ".join(str(root) for root in roots), highlight=False, markup=False)
    console.print("Open a subset as NAME:SUBSET. Not found? `safetyscope data show NAME` says what to download.",
                  highlight=False)


def _row_of(item: Sample | LabelledResponse) -> Sample:
    return item.sample if isinstance(item, LabelledResponse) else item


@data_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Suite, benchmark (NAME or NAME:SUBSET), labelled set or .jsonl/.csv file."),
    path: Path | None = typer.Option(None, "--path", help="The benchmark's file or folder (default: search path)."),
) -> None:
    """Counts per hazard and expectation, a few example ids, and where the data came from."""
    try:
        dataset = _open(name, path)
        items = list(dataset)
    except SafetyscopeError as exc:
        raise _fail(exc) from exc
    console = Console()
    console.print(f"[bold]{escape(dataset.name)}[/] — {escape(dataset.description)}", highlight=False)
    source = dataset.source
    console.print(f"source: {source if source is not None else 'Hugging Face'}", highlight=False, markup=False)
    labelled = isinstance(dataset, BaseLabelledSet)
    table = Table(title=f"{len(items)} {'labelled responses' if labelled else 'samples'}")
    table.add_column("hazard", no_wrap=True)
    columns = sorted({_row_of(item).expect.value for item in items})
    labels = sorted({item.human_label for item in items if isinstance(item, LabelledResponse)})
    for column in [*columns, *labels]:
        table.add_column(column, justify="right")
    table.add_column("total", justify="right")
    by_hazard: dict[str, Counter[str]] = {}
    for item in items:
        counts = by_hazard.setdefault(_row_of(item).hazard, Counter())
        counts[_row_of(item).expect.value] += 1
        if isinstance(item, LabelledResponse):
            counts[item.human_label] += 1
    for hazard, counts in sorted(by_hazard.items(), key=lambda pair: -sum(pair[1][c] for c in columns)):
        table.add_row(hazard, *(str(counts[c]) for c in [*columns, *labels]),
                      str(sum(counts[c] for c in columns)))
    console.print(table)
    sources = Counter(_row_of(item).source_hazard for item in items if _row_of(item).source_hazard)
    if sources:
        shown = ", ".join(f"{code} ({n})" for code, n in sources.most_common(12))
        more = ", …" if len(sources) > 12 else ""
        console.print(f"source categories: {shown}{more}", highlight=False, markup=False)
    ids = ", ".join(_row_of(item).id for item in items[:EXAMPLES])
    console.print(f"example ids: {ids}", highlight=False, markup=False)


def _schema_row(sample: Sample) -> dict[str, Any]:
    """A sample in our JSONL schema (docs/datasets.md)."""
    row: dict[str, Any] = {"id": sample.id}
    if len(sample.messages) == 1:
        row["prompt"] = sample.prompt
    else:
        row["messages"] = [message.model_dump() for message in sample.messages]
    row.update({"hazard": sample.hazard, "expect": sample.expect.value, "language": sample.language})
    if sample.source_hazard is not None:
        row["source_hazard"] = sample.source_hazard
    if sample.metadata:
        row["metadata"] = sample.metadata
    return row


@data_app.command("import")
def import_cmd(
    name: str = typer.Argument(..., help="Benchmark or labelled set name (NAME or NAME:SUBSET)."),
    path: Path | None = typer.Option(None, "--path", help="The benchmark's file or folder (default: search path)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="JSONL to write (default: NAME.jsonl)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
) -> None:
    """Validate a benchmark file and convert it to safetyscope's JSONL schema (labelled sets: one record a line)."""
    out = output or Path(f"{name.replace(':', '-').replace('/', '-')}.jsonl")
    try:
        dataset = _open(name, path)
        if isinstance(dataset, DatasetFile):
            raise UsageError(f"'{name}' is already in safetyscope's schema; nothing to import")
        if out.exists() and not force:
            raise UsageError(f"{out} exists; pass --force to overwrite it")
        count = dataset.validate()  # the whole file first: a bad row stops here, before anything is written
        tmp = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            for item in dataset:
                record = item.model_dump(mode="json") if isinstance(item, LabelledResponse) else _schema_row(item)
                handle.write(orjson.dumps(record) + b"\n")
        tmp.replace(out)
    except SafetyscopeError as exc:
        raise _fail(exc) from exc
    kind = "labelled responses" if isinstance(dataset, BaseLabelledSet) else "samples"
    Console().print(f"wrote {count} {kind} from {dataset.source or dataset.name} to {out}", highlight=False,
                    markup=False)
