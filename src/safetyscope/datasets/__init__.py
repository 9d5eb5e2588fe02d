"""Datasets: files of samples (JSONL or CSV) and the built-in suites."""

from safetyscope.datasets.files import DatasetFile, open_dataset
from safetyscope.datasets.registry import builtin_datasets

__all__ = ["DatasetFile", "builtin_datasets", "open_dataset"]
