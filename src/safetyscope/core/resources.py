"""Packaged data files, read with :mod:`importlib.resources`: ``<package>/data/<name>``."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import yaml

DATA_DIR = "data"


def read_text(package: str, name: str) -> str:
    """``<package>/data/<name>``, exactly as stored (no stripping: whitespace can be part of a format)."""
    return resources.files(package).joinpath(DATA_DIR, name).read_text(encoding="utf-8")


def read_json(package: str, name: str) -> Any:
    """A JSON file from ``<package>/data``."""
    return json.loads(read_text(package, name))


def read_jsonl(package: str, name: str) -> list[Any]:
    """The records of a JSON-lines file from ``<package>/data`` (blank lines skipped)."""
    return [json.loads(line) for line in read_text(package, name).splitlines() if line.strip()]


def read_yaml(package: str, name: str) -> Any:
    """A YAML file from ``<package>/data``."""
    return yaml.safe_load(read_text(package, name))
