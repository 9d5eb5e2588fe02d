"""A labelled judge set given as a file path (``--labels PATH[:SIDE]``): its format told from its columns.

``open_labelled_set("data/test.json:prompt")`` reads the first record of the file and picks the labelled set
whose label columns it has: Aegis 2.0 (``prompt_label`` / ``response_label``), OpenAI moderation (``S``, ``H``,
… next to ``prompt``), BeaverTails (``is_safe``). The optional ``:SIDE`` (``prompt`` or ``response``) becomes the
set's subset. A file with none of the label columns is a :class:`DatasetError` that names them.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.datasets.labelled import SIDES
from safetyscope.datasets.loaders.openai_moderation import LABELS as MODERATION_LABELS
from safetyscope.datasets.readers import Row, Where, table_records

FORMATS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("aegis-2.0-labels", "Aegis 2.0", ("prompt_label", "response_label")),
    ("openai-moderation-labels", "OpenAI moderation", MODERATION_LABELS),
    ("beavertails", "BeaverTails", ("is_safe",)),
)
"""(labelled set, format, label columns): a file with any of the label columns is that set."""
SIDED = ("aegis-2.0-labels", "openai-moderation-labels")
"""The sets whose subset is the side."""


def split_side(spec: str) -> tuple[Path, str | None] | None:
    """(file, side) when ``spec`` is an existing file, optionally followed by ``:prompt`` / ``:response``."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail in SIDES and Path(head).expanduser().is_file():
        return Path(head).expanduser(), tail
    path = Path(spec).expanduser()
    return (path, None) if path.is_file() else None


def first_record(path: Path) -> tuple[Where, Row]:
    """The first row of a CSV / JSON Lines / JSON-array file, with where it is."""
    for where, row in islice(table_records(path, fmt="labelled set", required=()), 1):
        return where, row
    raise DatasetError(path, "the file is empty")


def sniff_labelled(path: Path, side: str | None) -> tuple[str, str | None]:
    """(labelled set name, subset) for a file, from the label columns of its first record."""
    where, row = first_record(path)
    for name, _, columns in FORMATS:
        if any(column in row for column in columns):
            if side is not None and name not in SIDED:
                raise UsageError(f"{path}: a {name} file has one side only (drop ':{side}')")
            return name, side
    wanted = "; ".join(f"{' or '.join(columns)} ({fmt})" for _, fmt, columns in FORMATS)
    found = ", ".join(sorted(row)) or "none"
    raise where.error(f"no label column: a labelled file needs one of {wanted}; its columns are {found}. "
                      "For another format name the set: --labels NAME --path FILE")
