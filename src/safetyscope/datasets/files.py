"""Reading dataset files (JSONL, CSV) as a validated stream of samples."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.core.records import Sample
from safetyscope.datasets.registry import builtin_datasets
from safetyscope.datasets.rows import RowParser

FORMATS = (".jsonl", ".csv")


@dataclass(frozen=True)
class DatasetFile:
    """One dataset file. Iterating parses and validates lazily, so large files stream."""

    name: str
    path: Path

    def __iter__(self) -> Iterator[Sample]:
        parser = RowParser(self.path, self.name)
        count = 0
        for line, row in self._rows():
            count += 1
            yield parser.parse(row, line)
        if count == 0:
            raise DatasetError(self.path, "the dataset is empty")

    def validate(self) -> int:
        """Parse every row; raise DatasetError at the first bad one. Returns the number of samples."""
        return sum(1 for _ in self)

    def select(self, *, limit: int | None, seed: int) -> Iterator[Sample]:
        """All samples, or a seeded uniform sample of ``limit`` of them (kept in file order)."""
        if limit is None:
            yield from self
            return
        rng = random.Random(seed)
        reservoir: list[tuple[int, Sample]] = []
        for index, sample in enumerate(self):
            if index < limit:
                reservoir.append((index, sample))
            else:
                slot = rng.randrange(index + 1)
                if slot < limit:
                    reservoir[slot] = (index, sample)
        for _, sample in sorted(reservoir, key=lambda pair: pair[0]):
            yield sample

    def _rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        suffix = self.path.suffix.lower()
        if suffix == ".jsonl":
            yield from _jsonl_rows(self.path)
        else:
            yield from _csv_rows(self.path)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(path, f"not valid UTF-8 ({exc.reason} at byte {exc.start})", line=number) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in _lines(path):
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
    reader = csv.DictReader(text for _, text in _lines(path))
    if reader.fieldnames is None:
        return
    missing = [name for name in ("id", "hazard") if name not in reader.fieldnames]
    if "prompt" not in reader.fieldnames and "messages" not in reader.fieldnames:
        missing.append("prompt (or messages)")
    if missing:
        raise DatasetError(path, f"CSV header lacks column(s) {', '.join(missing)}; "
                           f"expected id, prompt|messages, hazard[, expect, language, metadata]", line=1)
    for row in reader:
        if None in row:
            raise DatasetError(path, "more values than header columns", line=reader.line_num)
        yield reader.line_num, row


def open_dataset(name_or_path: str) -> DatasetFile:
    """A built-in suite by name (``starter``) or a .jsonl / .csv file by path."""
    builtin = builtin_datasets.get(name_or_path)
    if builtin is not None:
        return DatasetFile(name=name_or_path, path=builtin.path)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() not in FORMATS:
        known = ", ".join(builtin_datasets) or "none"
        raise UsageError(f"dataset '{name_or_path}' is neither a built-in suite ({known}) nor a .jsonl/.csv file")
    if not path.is_file():
        raise UsageError(f"dataset file {path} does not exist")
    return DatasetFile(name=path.stem, path=path)
