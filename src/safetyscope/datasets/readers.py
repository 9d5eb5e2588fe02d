"""Streaming readers for the file formats the benchmarks ship: CSV, JSON Lines (plain, .gz, .xz, or a member of
a .zip), and JSON arrays. Each yields ``(Where, row)`` pairs; ``Where`` turns a problem into a
:class:`DatasetError` that names the file and line (or record, for JSON arrays).

Nothing here holds a file twice: CSV and JSON Lines stream line by line (zip members are decompressed on the fly);
a JSON array is parsed once and its bytes are released before the rows are handed out.
"""

from __future__ import annotations

import csv
import gzip
import lzma
import zipfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from safetyscope.core.errors import DatasetError

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Where:
    """A row's place in its source: file and line, or file and record number (0-based) for JSON arrays."""

    path: Path
    line: int | None = None
    record: int | None = None

    def error(self, message: str, *, field: str | None = None) -> DatasetError:
        if self.line is None and self.record is not None:
            message = f"record {self.record}: {message}"
        return DatasetError(self.path, message, line=self.line, field=field)


def columns_error(where: Where, fmt: str, expected: Sequence[str], missing: Sequence[str]) -> DatasetError:
    """The error for a row or header that lacks columns of its format."""
    return where.error(f"does not match the {fmt} format: expected columns {', '.join(expected)}; "
                       f"missing {', '.join(missing)}")


def require(where: Where, row: Row, required: Sequence[str], fmt: str,
            expected: Sequence[str] | None = None) -> None:
    """Raise :func:`columns_error` when ``row`` lacks any of ``required``."""
    missing = [name for name in required if name not in row]
    if missing:
        raise columns_error(where, fmt, expected or required, missing)


def _decoded(path: Path, raw_lines: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(raw_lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(path, f"not valid UTF-8 ({exc.reason} at byte {exc.start})", line=number) from None
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield number, text


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 text file (a leading BOM dropped)."""
    with path.open("rb") as handle:
        yield from _decoded(path, handle)


def csv_records(path: Path, *, fmt: str, required: Sequence[str], expected: Sequence[str] | None = None,
                lines: Iterable[tuple[int, str]] | None = None) -> Iterator[tuple[Where, Row]]:
    """Rows of a CSV file with a header; the header must hold ``required``. Multi-line fields are fine."""
    numbered = iter(lines if lines is not None else text_lines(path))
    state = {"line": 0}

    def feed() -> Iterator[str]:
        for number, text in numbered:
            state["line"] = number
            yield text

    reader = csv.DictReader(feed())
    header = reader.fieldnames
    if header is None:
        raise DatasetError(path, f"the file is empty (expected a {fmt} CSV with a header)")
    missing = [name for name in required if name not in header]
    if missing:
        raise columns_error(Where(path, 1), fmt, expected or required, missing)
    start = state["line"] + 1
    for row in reader:
        where = Where(path, start)
        if None in row:
            raise where.error("more values than header columns")
        yield where, row
        start = state["line"] + 1


def _raw_lines(path: Path) -> Iterator[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            yield from handle
    elif name.endswith(".xz"):
        with lzma.open(path, "rb") as handle:
            yield from handle
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            member = zip_member(path, archive)
            with archive.open(member) as handle:
                yield from handle
    else:
        with path.open("rb") as handle:
            yield from handle


def zip_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The data member of a zip: the one named like the zip minus ``.zip``, else its only non-``__MACOSX`` file."""
    names = [name for name in archive.namelist()
             if not name.startswith("__MACOSX/") and not name.endswith("/") and "/._" not in name]
    wanted = path.name[: -len(".zip")]
    for name in names:
        if name == wanted or name.rsplit("/", 1)[-1] == wanted:
            return name
    if len(names) == 1:
        return names[0]
    raise DatasetError(path, f"cannot tell which member holds the data (expected '{wanted}'; found "
                             f"{', '.join(names) or 'no files'})")


def jsonl_records(path: Path, *, fmt: str, required: Sequence[str] = (),
                  expected: Sequence[str] | None = None) -> Iterator[tuple[Where, Row]]:
    """Objects of a JSON Lines file (plain, ``.gz``, ``.xz`` or inside a ``.zip``), blank lines skipped."""
    shown = path
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            shown = Path(f"{path}!{zip_member(path, archive)}")
    for number, text in _decoded(shown, _raw_lines(path)):
        if not text.strip():
            continue
        where = Where(shown, number)
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise where.error(f"not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise where.error(f"each line must be a JSON object, got {type(row).__name__}")
        if required:
            require(where, row, required, fmt, expected)
        yield where, row


def load_json(path: Path) -> Any:
    """A whole JSON document (for files that are one array or object)."""
    try:
        with path.open("rb") as handle:
            return orjson.loads(handle.read())
    except orjson.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc}") from None


def json_array_records(path: Path, *, fmt: str, required: Sequence[str] = (),
                       expected: Sequence[str] | None = None, data: Any = None) -> Iterator[tuple[Where, Row]]:
    """Objects of a file holding one JSON array (records numbered from 0)."""
    items = load_json(path) if data is None else data
    if not isinstance(items, list):
        raise DatasetError(path, f"does not match the {fmt} format: expected a JSON array of objects, "
                                 f"got {type(items).__name__}")
    for index, row in enumerate(items):
        where = Where(path, record=index)
        if not isinstance(row, dict):
            raise where.error(f"expected a JSON object, got {type(row).__name__}")
        if required:
            require(where, row, required, fmt, expected)
        yield where, row


def _first_byte(path: Path) -> bytes:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else (
        lzma.open if path.name.lower().endswith(".xz") else open)
    handle: IO[bytes]
    with opener(path, "rb") as handle:
        while chunk := handle.read(256):
            stripped = chunk.lstrip(b"\xef\xbb\xbf \t\r\n")
            if stripped:
                return stripped[:1]
    return b""


def table_records(path: Path, *, fmt: str, required: Sequence[str],
                  expected: Sequence[str] | None = None) -> Iterator[tuple[Where, Row]]:
    """Rows of a CSV, JSON Lines or JSON-array file, told apart by suffix (and, for ``.json``, by content)."""
    name = path.name.lower()
    if name.endswith(".csv"):
        yield from csv_records(path, fmt=fmt, required=required, expected=expected)
    elif name.endswith(".json") and _first_byte(path) == b"[":
        yield from json_array_records(path, fmt=fmt, required=required, expected=expected)
    elif name.endswith((".json", ".jsonl", ".jsonl.gz", ".jsonl.xz", ".json.gz", ".jsonl.zip", ".zip")):
        yield from jsonl_records(path, fmt=fmt, required=required, expected=expected)
    else:
        raise DatasetError(path, f"unsupported file type for {fmt} (expected .csv, .json, .jsonl, .jsonl.gz, "
                                 ".jsonl.xz or .jsonl.zip)")


def text(where: Where, row: Row, field: str, *, required: bool = True) -> str:
    """A field as stripped text; a missing or blank required field is an error."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise where.error(f"missing required field '{field}'", field=field)
        return ""
    if isinstance(value, (dict, list)):
        raise where.error(f"'{field}' must be text, not {type(value).__name__}", field=field)
    return str(value).strip()


def one_of(where: Where, row: Row, field: str, allowed: Collection[str]) -> str:
    """A field whose value must be one of ``allowed``."""
    value = text(where, row, field)
    if value not in allowed:
        raise where.error(f"'{value}' is not one of {', '.join(sorted(allowed))}", field=field)
    return value
