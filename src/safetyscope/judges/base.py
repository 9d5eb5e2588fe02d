"""The async Judge protocol and registry."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from safetyscope.core.builtins import load_components
from safetyscope.core.records import ComponentSpec, JudgeInput, Verdict
from safetyscope.core.registry import Registry


@runtime_checkable
class Judge(Protocol):
    """Reads one attempt and returns a Verdict. Never raises for bad model output: returns an unscored
    verdict with the reason and raw text instead. Judges do not write to the store."""

    @property
    def spec(self) -> ComponentSpec:
        """Identity used in cache keys and stored with every verdict."""
        ...

    async def judge(self, item: JudgeInput) -> Verdict:
        """Score one response."""
        ...


judges: Registry[Judge] = Registry("judge")


def create_judge(name: str, options: dict[str, Any] | None = None) -> Judge:
    """Build the judge registered as ``name``."""
    load_components()
    return judges.create(name, **(options or {}))
