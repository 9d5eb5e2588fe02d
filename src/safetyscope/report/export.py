"""Exports: one row per attempt, as CSV (always) or Parquet (when pyarrow is installed)."""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from safetyscope.core.errors import PrerequisiteError
from safetyscope.report.attempts import AttemptView

COLUMNS = ["run_id", *(f.name for f in fields(AttemptView))]
_PARQUET_BATCH = 10_000


def _record(run_id: str, view: AttemptView) -> dict[str, Any]:
    return {"run_id": run_id, **asdict(view)}


def export_csv(run_id: str, views: Iterable[AttemptView], path: Path) -> int:
    """Write the attempts to ``path``; returns the number of rows. Empty values are empty cells."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for view in views:
            writer.writerow(_record(run_id, view))
            count += 1
    return count


def export_parquet(run_id: str, views: Iterable[AttemptView], path: Path) -> int:
    """Write the attempts as Parquet (needs pyarrow: ``pip install pyarrow``)."""
    try:
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise PrerequisiteError("Parquet export needs pyarrow: pip install pyarrow (or use --format csv)") from None
    types = {"outcome": pa.bool_(), "confidence": pa.float64(), "attack_seed": pa.int64(), "queries": pa.int64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for view in views:
            batch.append(_record(run_id, view))
            count += 1
            if len(batch) >= _PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return count
