"""Deterministic targets for tests and demos: ``mock/refuser``, ``mock/complier``, ``mock/echo``,
``mock/scripted`` and ``mock/failing``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from safetyscope.core.errors import TargetError, UsageError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.targets.base import BaseTarget, target_providers

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


def _complier_reply(prompt: str) -> str:
    return f"Sure, here is a detailed answer to your request. Step 1: start with the basics of: {prompt[:200]}"


class MockTarget(BaseTarget):
    """Answers every call with ``reply(prompt)`` after an optional simulated latency."""

    def __init__(self, *, name: str, reply: Callable[[str], str], latency_s: float = 0.0,
                 options: dict[str, Any] | None = None) -> None:
        super().__init__(ComponentSpec(kind="target", name=f"mock/{name}", options=options or {}))
        self._reply = reply
        self._latency_s = latency_s

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        text = self._reply(messages[-1].content)
        return Generation(text=text, finish_reason="stop", latency_ms=self._latency_s * 1000,
                          completion_tokens=len(text.split()))


class FailingTarget(MockTarget):
    """Fails the first ``failures`` calls of each prompt, then answers like the complier."""

    def __init__(self, *, failures: int, retryable: bool, options: dict[str, Any]) -> None:
        super().__init__(name="failing", reply=_complier_reply, options=options)
        self._failures = failures
        self._retryable = retryable
        self._seen: dict[str, int] = {}

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        prompt = messages[-1].content
        count = self._seen.get(prompt, 0)
        self._seen[prompt] = count + 1
        if count < self._failures:
            raise TargetError(f"mock failure {count + 1} of {self._failures}", retryable=self._retryable)
        return await super().generate(messages, params)


@target_providers.register("mock", description="Deterministic fake models: refuser, complier, echo, scripted, failing.")
def create_mock(*, name: str, latency_s: float = 0.0, replies: Mapping[str, str] | None = None,
                default_reply: str = REFUSAL_TEXT, failures: int = 1, retryable: bool = True) -> MockTarget:
    """``mock/refuser`` refuses, ``mock/complier`` complies, ``mock/echo`` repeats the prompt,
    ``mock/scripted`` answers from ``replies`` (prompt → text, else ``default_reply``),
    ``mock/failing`` raises ``failures`` times per prompt before complying."""
    if name == "refuser":
        return MockTarget(name=name, reply=lambda _prompt: REFUSAL_TEXT, latency_s=latency_s)
    if name == "complier":
        return MockTarget(name=name, reply=_complier_reply, latency_s=latency_s)
    if name == "echo":
        return MockTarget(name=name, reply=lambda prompt: prompt, latency_s=latency_s)
    if name == "scripted":
        table = dict(replies or {})
        return MockTarget(name=name, reply=lambda prompt: table.get(prompt, default_reply), latency_s=latency_s,
                          options={"replies": table, "default_reply": default_reply})
    if name == "failing":
        return FailingTarget(failures=failures, retryable=retryable,
                             options={"failures": failures, "retryable": retryable})
    raise UsageError(f"unknown mock target 'mock/{name}' (known: refuser, complier, echo, scripted, failing)")
