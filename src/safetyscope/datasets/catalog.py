"""Opening a dataset by name: built-in suites, named benchmarks (``NAME`` or ``NAME:SUBSET``), or a file path.

>>> from safetyscope.datasets import open_dataset, open_labelled_set
>>> open_dataset("xstest")                      # found on the data search path (see datasets/named.py)
>>> open_dataset("harmbench:contextual")        # a subset
>>> open_dataset("xstest", path="~/Downloads/xstest_prompts.csv")
>>> open_labelled_set("xstest-completions:gpt4")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetyscope.core.errors import UsageError
from safetyscope.datasets import named as _named
from safetyscope.datasets.base import BaseCollection, BaseDataset
from safetyscope.datasets.files import FORMATS, DatasetFile
from safetyscope.datasets.labelled import BaseLabelledSet
from safetyscope.datasets.labelled_files import sniff_labelled, split_side
from safetyscope.datasets.loaders import ENTRIES
from safetyscope.datasets.named import NamedDataset, Request, search_roots
from safetyscope.datasets.registry import builtin_datasets

NAMED: dict[str, NamedDataset] = {entry.name: entry for entry in ENTRIES}
_ALIASES: dict[str, str] = {alias: entry.name for entry in ENTRIES for alias in entry.aliases}


def named_datasets() -> tuple[NamedDataset, ...]:
    """Every named benchmark and labelled set, in catalog order."""
    return ENTRIES


def find_named(name: str) -> tuple[NamedDataset, str | None] | None:
    """The entry and subset for ``NAME`` or ``NAME:SUBSET`` (aliases accepted), else None."""
    base, sep, subset = name.strip().partition(":")
    key = base.lower()
    entry = NAMED.get(key) or NAMED.get(_ALIASES.get(key, ""))
    if entry is None:
        return None
    return entry, (subset.strip() or None) if sep else None


def _check_subset(entry: NamedDataset, subset: str | None) -> None:
    if subset is None:
        return
    if subset in entry.subsets or subset.partition("/")[0] in entry.subsets:
        return
    known = ", ".join(entry.subsets) or "none"
    raise UsageError(f"'{subset}' is not a subset of {entry.name} (subsets: {known})")


def open_named(entry: NamedDataset, subset: str | None = None, *, path: Path | str | None = None,
               environ: Mapping[str, str] | None = None) -> BaseCollection[Any]:
    """Open a named dataset: from ``path`` if given, else the search path, else Hugging Face (when possible)."""
    _check_subset(entry, subset)
    shown = entry.name + (f":{subset}" if subset else "")
    if path is not None:
        given = Path(path).expanduser()
        file, folder = entry.at_path(given, subset)
        return entry.opener(Request(shown, subset, file, folder, explicit=given.is_file()))
    roots = search_roots(environ)
    found = entry.locate(subset, roots)
    if found is not None:
        file, folder = found
        return entry.opener(Request(shown, subset, file, folder))
    hf = entry.hf_source(subset)
    if hf is not None and _named.hf_available():
        return entry.opener(Request(shown, subset, None, None, hf=hf))
    raise entry.missing(subset, roots)


def _usage_unknown(name_or_path: str) -> UsageError:
    suites = ", ".join(builtin_datasets) or "none"
    names = ", ".join(entry.name for entry in ENTRIES if entry.kind == "benchmark")
    return UsageError(f"dataset '{name_or_path}' is neither a built-in suite ({suites}), a named benchmark "
                      f"({names}) nor a .jsonl/.csv file (see `safetyscope data list`)")


def open_dataset(name_or_path: str, *, path: Path | str | None = None,
                 environ: Mapping[str, str] | None = None) -> BaseDataset:
    """A built-in suite (``starter``), a named benchmark (``xstest``, ``harmbench:contextual``, … — see
    ``safetyscope data list``), or a .jsonl / .csv file in our schema. ``path`` points a named benchmark at its
    file or folder instead of the data search path."""
    builtin = builtin_datasets.get(name_or_path)
    if builtin is not None:
        return DatasetFile(name=name_or_path, path=builtin.path, description=builtin.description)
    named = find_named(name_or_path)
    if named is not None:
        entry, subset = named
        if entry.kind == "labelled":
            raise UsageError(f"'{entry.name}' is a labelled judge set (responses with human labels), not prompts: "
                             "open it with open_labelled_set() or look at it with `safetyscope data show`")
        opened = open_named(entry, subset, path=path, environ=environ)
        assert isinstance(opened, BaseDataset)
        return opened
    file = Path(name_or_path).expanduser()
    if file.suffix.lower() not in FORMATS:
        raise _usage_unknown(name_or_path)
    if not file.is_file():
        raise UsageError(f"dataset file {file} does not exist")
    return DatasetFile(name=file.stem, path=file, description=f"{file.name} (safetyscope schema)")


def open_labelled_set(name: str, *, path: Path | str | None = None,
                      environ: Mapping[str, str] | None = None) -> BaseLabelledSet:
    """A labelled judge set by name (``xstest-completions``, ``xstest-completions:gpt4``, ``harmbench-val``,
    ``beavertails``), or a file path whose format is told from its label columns (``PATH[:prompt|:response]``,
    see ``datasets/labelled_files.py``)."""
    named = find_named(name)
    located = split_side(name) if named is None and path is None else None
    if located is not None:
        path = located[0]
        set_name, subset = sniff_labelled(*located)
        named = NAMED[set_name], subset
    if named is None or named[0].kind != "labelled":
        known = ", ".join(entry.name for entry in ENTRIES if entry.kind == "labelled")
        raise UsageError(f"'{name}' is not a labelled judge set (known: {known})")
    opened = open_named(named[0], named[1], path=path, environ=environ)
    assert isinstance(opened, BaseLabelledSet)
    return opened
