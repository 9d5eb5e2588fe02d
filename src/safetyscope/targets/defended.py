"""``pcdefense/<target address>``: any target behind PCDefense's defence prompt (a system turn that asks
for one safety standard whatever group a request names), so one report shows a model with and without it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safetyscope.attacks.pcjailbreak import PC_DEFENSE_PROMPT, apply_pc_defense
from safetyscope.core.hashing import content_hash
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.targets.base import BaseTarget, Target, create_target, target_providers


class DefendedTarget(BaseTarget):
    """Prepends a defence prompt to every conversation sent to ``inner``."""

    def __init__(self, *, inner: Target, defense: str, prompt: str) -> None:
        super().__init__(ComponentSpec(kind="target", name=f"{defense}/{inner.spec.name}",
                                       options={"inner": inner.spec.model_dump(), "prompt": content_hash(prompt)}))
        self._inner = inner
        self._prompt = prompt

    @property
    def max_in_flight(self) -> int | None:
        return self._inner.max_in_flight

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        return await self._inner.generate(apply_pc_defense(messages, self._prompt), params)

    async def aclose(self) -> None:
        await self._inner.aclose()


@target_providers.register("pcdefense", description="Any target behind PCDefense's defence prompt "
                                                     "(pcdefense/<provider>/<name>).")
def create_pcdefense(*, name: str, **inner_options: Any) -> DefendedTarget:
    """``name`` is the wrapped target's address; every option goes to the wrapped target."""
    return DefendedTarget(inner=create_target(name, inner_options), defense="pcdefense", prompt=PC_DEFENSE_PROMPT)
