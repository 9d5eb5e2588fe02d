"""Datasets: our own files (JSONL, CSV), the built-in suites, and loaders for public benchmarks by name.

``open_dataset(name_or_path)`` is the entry point for prompts; ``open_labelled_set(name)`` for labelled judge
sets (responses with human labels). See docs/datasets.md.
"""

from safetyscope.datasets.base import BaseDataset, Dataset
from safetyscope.datasets.catalog import find_named, named_datasets, open_dataset, open_labelled_set, open_named
from safetyscope.datasets.files import DatasetFile
from safetyscope.datasets.hazards import UNMAPPED
from safetyscope.datasets.labelled import BaseLabelledSet, LabelKind, LabelledResponse, LabelledSet
from safetyscope.datasets.named import NamedDataset, search_roots
from safetyscope.datasets.registry import builtin_datasets
from safetyscope.datasets.selection import count_strata, planned_count, select_items

__all__ = [
    "UNMAPPED",
    "BaseDataset",
    "BaseLabelledSet",
    "Dataset",
    "DatasetFile",
    "LabelKind",
    "LabelledResponse",
    "LabelledSet",
    "NamedDataset",
    "builtin_datasets",
    "count_strata",
    "find_named",
    "named_datasets",
    "open_dataset",
    "open_labelled_set",
    "open_named",
    "planned_count",
    "search_roots",
    "select_items",
]
