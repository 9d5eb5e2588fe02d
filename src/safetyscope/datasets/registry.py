"""Built-in suites shipped as package data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path


@dataclass(frozen=True)
class BuiltinDataset:
    """A suite that ships inside the package."""

    name: str
    file_name: str
    description: str

    @property
    def path(self) -> Path:
        return Path(str(files("safetyscope.datasets").joinpath("builtin", self.file_name)))


builtin_datasets: dict[str, BuiltinDataset] = {
    suite.name: suite
    for suite in (
        BuiltinDataset("starter", "starter.jsonl",
                       "252 unsafe requests over the 12 AILuminate hazards + 126 look-alike benign prompts."),
    )
}
