"""Named datasets: where their files are searched for, and how a loader is asked to open them.

Search path (first hit wins), each a folder holding one sub-folder per dataset laid out like
``shared/datasets`` (e.g. ``<root>/xstest/xstest_prompts.csv``):

1. ``$SAFETYSCOPE_DATA``
2. ``$SAFETYSCOPE_SHARED/datasets``
3. ``../shared/datasets`` relative to the current working directory

A dataset that is not found raises :class:`PrerequisiteError` saying what to download and where to put it. For
the sets published only on Hugging Face, installing the optional extra (``pip install 'safetyscope[hf]'``) lets
safetyscope fetch them with the ``datasets`` library instead (needs network access; gated sets need a token).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from safetyscope.core.errors import PrerequisiteError, UsageError
from safetyscope.datasets.base import BaseCollection
from safetyscope.datasets.readers import Row, Where

DATA_ENV = "SAFETYSCOPE_DATA"
SHARED_ENV = "SAFETYSCOPE_SHARED"
HF_EXTRA = "pip install 'safetyscope[hf]'"


def search_roots(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> list[Path]:
    """The data search path, in order (folders that do not exist are included; they simply hold nothing)."""
    env = os.environ if environ is None else environ
    roots: list[Path] = []
    if env.get(DATA_ENV):
        roots.append(Path(env[DATA_ENV]).expanduser())
    if env.get(SHARED_ENV):
        roots.append(Path(env[SHARED_ENV]).expanduser() / "datasets")
    roots.append(((cwd or Path.cwd()) / ".." / "shared" / "datasets").resolve())
    return roots


@dataclass(frozen=True)
class HFSource:
    """Where a Hugging Face-only dataset lives on the Hub (fetched with the optional ``datasets`` library)."""

    repo: str
    split: str = "test"
    config: str | None = None
    data_files: str | None = None

    @property
    def label(self) -> str:
        return f"hf://{self.repo}" + (f"/{self.data_files}" if self.data_files else f" [{self.split}]")

    def records(self) -> Iterator[tuple[Where, Row]]:
        """The rows, downloaded (and cached) by ``datasets.load_dataset``."""
        try:
            hf_datasets: Any = importlib.import_module("datasets")
        except ImportError:
            hf_datasets = None
        if not callable(getattr(hf_datasets, "load_dataset", None)):
            raise PrerequisiteError(f"fetching {self.repo} from Hugging Face needs the `datasets` library: "
                                    f"{HF_EXTRA}")
        kwargs: dict[str, Any] = {"split": self.split}
        if self.data_files is not None:
            kwargs["data_files"] = self.data_files
        try:
            rows = hf_datasets.load_dataset(self.repo, self.config, **kwargs)
        except Exception as exc:  # network, authentication (gated sets), unknown split: all user-fixable
            raise PrerequisiteError(f"could not fetch {self.repo} from Hugging Face ({type(exc).__name__}: {exc}); "
                                    "check network access and, for gated datasets, `huggingface-cli login`") from None
        where = Path(self.label)
        for index, row in enumerate(rows):
            yield Where(where, record=index), dict(row)


def hf_available() -> bool:
    """Whether the optional Hugging Face ``datasets`` library is installed (a bare folder named ``datasets`` on
    ``sys.path``, which Python would import as a namespace package, does not count)."""
    try:
        spec = importlib.util.find_spec("datasets")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and spec.origin != "namespace"


@dataclass(frozen=True)
class Request:
    """What a loader is asked to open: the name as given, the subset, and the file found (or the HF source)."""

    name: str
    subset: str | None
    file: Path | None
    folder: Path | None
    hf: HFSource | None = None
    explicit: bool = False
    """True when the caller named the file (``path=``) rather than it being found on the search path."""

    def path(self, relative: str) -> Path | None:
        """A file relative to the dataset folder, when it exists."""
        if self.folder is None:
            return None
        candidate = self.folder / relative
        return candidate if candidate.is_file() else None


Opener = Callable[[Request], BaseCollection[Any]]
Kind = Literal["benchmark", "labelled"]


@dataclass(frozen=True)
class NamedDataset:
    """One addressable dataset: its files, where they come from, and what loading does to them (for the docs)."""

    name: str
    kind: Kind
    title: str
    folder: str
    files: tuple[str, ...]
    opener: Opener
    source: str
    rows: str
    hazards: str
    expect: str
    aliases: tuple[str, ...] = ()
    subsets: tuple[str, ...] = ()
    subset_files: Mapping[str, tuple[str, ...]] | None = None
    hf: HFSource | None = None
    hf_subsets: Mapping[str, HFSource] | None = None
    download: str = ""
    notes: str = ""

    def candidates(self, subset: str | None) -> tuple[str, ...]:
        if subset is not None and self.subset_files and subset in self.subset_files:
            return self.subset_files[subset]
        return self.files

    def hf_source(self, subset: str | None) -> HFSource | None:
        if subset is not None and self.hf_subsets and subset in self.hf_subsets:
            return self.hf_subsets[subset]
        return self.hf

    def locate(self, subset: str | None = None, roots: list[Path] | None = None) -> tuple[Path, Path] | None:
        """(file, dataset folder) of the first candidate found on the search path, else None."""
        for root in roots if roots is not None else search_roots():
            folder = root / self.folder
            hit = _first(folder, self.candidates(subset))
            if hit is not None:
                return hit, folder
        return None

    def at_path(self, path: Path, subset: str | None = None) -> tuple[Path, Path]:
        """(file, folder) for an explicit path: a file of this format, or a folder holding one."""
        path = path.expanduser()
        candidates = self.candidates(subset)
        if path.is_file():
            for candidate in candidates:
                parts = Path(candidate).parts
                if "*" not in candidate and len(parts) > 1 and path.parts[-len(parts):] == parts:
                    return path, path.parents[len(parts) - 1]
            return path, path.parent
        if path.is_dir():
            for folder in (path, path / self.folder):
                hit = _first(folder, candidates)
                if hit is not None:
                    return hit, folder
            raise UsageError(f"{path} holds no {self.title} file (looked for {' or '.join(candidates)})")
        raise UsageError(f"{path} does not exist")

    def missing(self, subset: str | None, roots: list[Path]) -> PrerequisiteError:
        """The error for a dataset found nowhere, saying what to download and where to put it."""
        wanted = self.candidates(subset)[0].replace("*", "…")
        where = "; ".join(str(root / self.folder / wanted) for root in roots)
        message = (f"dataset '{self.name}' ({self.title}) was not found. Download {self.download or wanted} "
                   f"from {self.source} and put it at one of: {where} "
                   f"(search path: ${DATA_ENV}, ${SHARED_ENV}/datasets, ../shared/datasets), or pass its path.")
        hf = self.hf_source(subset)
        if hf is not None:
            message += f" With network access, {HF_EXTRA} lets safetyscope fetch it from Hugging Face ({hf.repo})"
            message += "." if hf_available() else " (the `datasets` library is not installed)."
        return PrerequisiteError(message)


def _first(folder: Path, candidates: tuple[str, ...]) -> Path | None:
    if not folder.is_dir():
        return None
    for candidate in candidates:
        if any(ch in candidate for ch in "*?["):
            hits = sorted(path for path in folder.glob(candidate) if path.is_file())
            if hits:
                return hits[0]
        else:
            path = folder / candidate
            if path.is_file():
                return path
    return None
