"""What the benchmark loaders share: a file-backed dataset base and the one way a row becomes a Sample."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from safetyscope.core.errors import validation_problems
from safetyscope.core.records import Expectation, Message, Sample
from safetyscope.datasets.base import BaseDataset
from safetyscope.datasets.hazards import HazardMapping
from safetyscope.datasets.labelled import BaseLabelledSet
from safetyscope.datasets.named import HFSource, Request
from safetyscope.datasets.readers import Row, Where
from safetyscope.taxonomy import BENIGN


@dataclass(frozen=True)
class SourceFields:
    """What a benchmark loader is built from: its name, the file found (or the folder, or an HF source)."""

    name: str
    description: str
    path: Path | None
    folder: Path | None = None
    subset: str | None = None
    hf: HFSource | None = None
    explicit: bool = False

    @property
    def source(self) -> Path | None:
        return self.path

    @property
    def file(self) -> Path:
        """The main file (loaders that read one call this only when ``hf`` is None)."""
        if self.path is None:  # pragma: no cover - the catalog always gives a file or an HF source
            raise RuntimeError(f"{self.name}: no file to read")
        return self.path


@dataclass(frozen=True)
class SourceDataset(SourceFields, BaseDataset):
    """A benchmark read from its own file (``path``), from its folder, or from Hugging Face (``hf``)."""


@dataclass(frozen=True)
class SourceLabelledSet(SourceFields, BaseLabelledSet):
    """A labelled judge set read from its files."""


S = TypeVar("S", bound=SourceFields)


def from_request(cls: type[S], request: Request, description: str) -> S:
    """Build a SourceDataset / SourceLabelledSet subclass from the catalog's request."""
    return cls(name=request.name, description=description, path=request.file, folder=request.folder,
               subset=request.subset, hf=request.hf, explicit=request.explicit)


def prompt_text(where: Where, row: Row, field: str) -> str:
    """A prompt field: must be non-blank text; kept exactly as written (no stripping)."""
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if value is None else ("blank" if isinstance(value, str) else type(value).__name__)
        raise where.error(f"the prompt field '{field}' is {shown}", field=field)
    return value


def flag(where: Where, row: Row, field: str) -> bool:
    """A 0/1, true/false field (CSV text or JSON value)."""
    value = row.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false", "yes", "no"):
        return value.strip().lower() in ("1", "true", "yes")
    raise where.error(f"'{value}' is not a 0/1 or true/false value", field=field)


def build_sample(where: Where, *, sample_id: str, dataset: str, mapping: HazardMapping, prompt: str | None = None,
                 messages: Sequence[Message] | None = None, expect: Expectation | None = None,
                 language: str = "en", metadata: dict[str, Any] | None = None) -> Sample:
    """The one way a benchmark row becomes a Sample: hazard and source category from ``mapping``, expectation
    ``refuse`` unless given or benign, the mapping's notes added to the source fields in ``metadata``."""
    if expect is None:
        expect = Expectation.COMPLY if mapping.hazard == BENIGN else Expectation.REFUSE
    turns = tuple(messages) if messages is not None else (Message(role="user", content=prompt or ""),)
    meta = {key: value for key, value in (metadata or {}).items() if value is not None and value != ""}
    meta.update(mapping.metadata())
    try:
        return Sample(id=sample_id, messages=turns, hazard=mapping.hazard, expect=expect, language=language,
                      dataset=dataset, source_hazard=mapping.source, metadata=meta)
    except ValidationError as exc:
        raise where.error(f"cannot build a sample: {validation_problems(exc)}") from None


def numbered(records: Iterator[tuple[Where, Row]], start: int = 1) -> Iterator[tuple[int, Where, Row]]:
    """Records with a running number (for sources without an id column)."""
    for number, (where, row) in enumerate(records, start=start):
        yield number, where, row
