"""Dataset files in our own schema (JSONL, CSV; docs/datasets.md), streamed as validated samples."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from safetyscope.core.errors import DatasetError
from safetyscope.core.records import Sample
from safetyscope.datasets.base import BaseDataset
from safetyscope.datasets.readers import Where, text_lines
from safetyscope.datasets.rows import RowParser

FORMATS = (".jsonl", ".csv")


@dataclass(frozen=True)
class DatasetFile(BaseDataset):
    """One file in our schema. Iterating parses and validates lazily, so large files stream."""

    name: str
    path: Path
    description: str = ""

    @property
    def source(self) -> Path:
        return self.path

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        parser = RowParser(self.path, self.name)
        for line, row in self._rows():
            yield Where(self.path, line), parser.parse(row, line)

    def _rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.path.suffix.lower() == ".jsonl":
            yield from _jsonl_rows(self.path)
        else:
            yield from _csv_rows(self.path)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in text_lines(path):
        if not text.strip():
            continue
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DatasetError(path, f"not valid JSON: {exc}", line=number) from None
        if not isinstance(row, dict):
            raise DatasetError(path, f"each line must be a JSON object, got {type(row).__name__}", line=number)
        yield number, row


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text for _, text in text_lines(path))
    if reader.fieldnames is None:
        return
    missing = [name for name in ("id", "hazard") if name not in reader.fieldnames]
    if "prompt" not in reader.fieldnames and "messages" not in reader.fieldnames:
        missing.append("prompt (or messages)")
    if missing:
        raise DatasetError(path, f"CSV header lacks column(s) {', '.join(missing)}; "
                           f"expected id, prompt|messages, hazard[, expect, language, source_hazard, metadata]",
                           line=1)
    for row in reader:
        if None in row:
            raise DatasetError(path, "more values than header columns", line=reader.line_num)
        yield reader.line_num, row

