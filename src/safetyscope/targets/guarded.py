"""``guarded:<policy>:<target>``: any target behind the runtime guard, in process, so one report shows a model
with and without it.

Each call: the guard screens the input (the conversation as sent); a block (or a ``review``, unless
``review_action=allow``) returns ``REFUSAL_TEXT`` without calling the inner target. Otherwise the inner target
answers and the guard screens the output; a block replaces the answer with the refusal. What the guard decided
is recorded in the Generation's ``finish_reason`` (stored with every response), e.g.
``guard input=allow output=block ids=gd-1,gd-2 hazards=vcr | stop`` (the part after ``|`` is the inner
target's own reason). ``<policy>`` is ``default`` or a path to a policy YAML file (which may not contain a
colon); ``<target>`` is any target address. Decisions go to the guard store (option ``store``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from safetyscope.core.errors import UsageError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.guard.engine import GuardDecision
from safetyscope.guard.local import DEFAULT_LOCAL_STORE, LocalGuard
from safetyscope.guard.policy import with_safety_config
from safetyscope.targets.base import BaseTarget, Target, create_target, target_providers

REFUSAL_TEXT = "I'm sorry, but I can't help with that request: it was blocked by the safety policy."
FINISH_PREFIX = "guard "
"""Every guarded Generation's ``finish_reason`` starts with this."""


def _blocks(decision: GuardDecision, review_action: str) -> bool:
    return decision.action == "block" or (decision.action == "review" and review_action == "block")


def guard_finish_reason(decisions: Sequence[GuardDecision], inner: str | None) -> str:
    """The compact, stored account of the guard's decisions (see the module docstring)."""
    parts = [f"{d.direction}={d.action}" for d in decisions]
    if len(decisions) == 1:
        parts.append("output=skipped" if decisions[0].action != "allow" else "output=none")
    parts.append("ids=" + ",".join(d.decision_id for d in decisions))
    hazards = sorted({h for d in decisions for h in (*d.categories, *d.custom_categories)})
    if hazards:
        parts.append("hazards=" + ",".join(hazards))
    return FINISH_PREFIX + " ".join(parts) + (f" | {inner}" if inner else "")


def parse_guard_finish_reason(finish_reason: str | None) -> dict[str, str] | None:
    """``{'input': 'allow', 'output': 'block', 'ids': ..., 'hazards': ...}`` from a guarded finish reason, or
    None when the response did not come through the guard."""
    if not finish_reason or not finish_reason.startswith(FINISH_PREFIX):
        return None
    head, _, inner = finish_reason[len(FINISH_PREFIX):].partition(" | ")
    fields = dict(part.split("=", 1) for part in head.split() if "=" in part)
    if inner:
        fields["inner"] = inner
    return fields


class GuardedTarget(BaseTarget):
    """The guard's input screen, the inner target, the guard's output screen."""

    def __init__(self, *, inner: Target, guard: LocalGuard, policy_spec: str,
                 review_action: Literal["block", "allow"] = "block") -> None:
        super().__init__(ComponentSpec(kind="target", name=f"guarded:{policy_spec}:{inner.spec.name}", options={
            "inner": inner.spec.model_dump(), "policy": guard.policy.name, "policy_digest": guard.policy.digest,
            "review_action": review_action}))
        self._inner = inner
        self._guard = guard
        self._review_action = review_action

    @property
    def max_in_flight(self) -> int | None:
        return self._inner.max_in_flight

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        start = time.perf_counter()
        engine = self._guard.engine
        screened = await engine.check(messages, "input")
        if _blocks(screened, self._review_action):
            return Generation(text=REFUSAL_TEXT, finish_reason=guard_finish_reason([screened], None),
                              latency_ms=(time.perf_counter() - start) * 1000.0)
        answer = await self._inner.generate(self._configured(messages), params)
        checked = await engine.check([*messages, Message(role="assistant", content=answer.text)], "output")
        reason = guard_finish_reason([screened, checked], answer.finish_reason)
        latency = (time.perf_counter() - start) * 1000.0
        if _blocks(checked, self._review_action):
            return Generation(text=REFUSAL_TEXT, finish_reason=reason, latency_ms=latency,
                              prompt_tokens=answer.prompt_tokens)
        return answer.model_copy(update={"finish_reason": reason, "latency_ms": latency})

    def _configured(self, messages: Sequence[Message]) -> Sequence[Message]:
        """The messages with the policy's CoSA-style safety config in the system prompt (unchanged without one)."""
        config = self._guard.policy.safety_config
        if not config:
            return messages
        has_system = bool(messages) and messages[0].role == "system"
        system = with_safety_config(config, messages[0].content if has_system else None) or config
        return [Message(role="system", content=system), *(messages[1:] if has_system else messages)]

    async def aclose(self) -> None:
        try:
            await self._guard.aclose()
        finally:
            await self._inner.aclose()


@target_providers.register("guarded", description="Any target behind the runtime guard "
                                                   "(guarded:<policy|default>:<provider>/<name>).")
def create_guarded(*, name: str, store: str = DEFAULT_LOCAL_STORE, review_action: str = "block",
                   **inner_options: Any) -> GuardedTarget:
    """``name`` is ``<policy>:<target address>``; ``store`` and ``review_action`` are the guard's, every other
    option goes to the wrapped target."""
    policy_spec, sep, address = name.partition(":")
    if not sep or not policy_spec or not address:
        raise UsageError(f"guarded target 'guarded:{name}' must look like guarded:<policy>:<provider>/<name>, "
                         "e.g. guarded:default:mock/complier (policy: 'default' or a policy YAML path)")
    if review_action not in ("block", "allow"):
        raise UsageError(f"guarded target: review_action must be 'block' or 'allow', not {review_action!r}")
    inner = create_target(address, inner_options)
    guard = LocalGuard(policy_spec, store)
    return GuardedTarget(inner=inner, guard=guard, policy_spec=policy_spec,
                         review_action="block" if review_action == "block" else "allow")
