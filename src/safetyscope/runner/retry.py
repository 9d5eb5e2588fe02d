"""Calling a model with a per-call timeout and retries (exponential backoff, full jitter, Retry-After).

One mechanism for every remote call: targets in the run loop, judge models and moderation APIs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from safetyscope.core.errors import TargetError
from safetyscope.core.records import Generation, GenerationParams, Message
from safetyscope.targets.base import Target

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one call."""

    timeout_s: float = 120.0
    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, retry: int, rng: random.Random, retry_after_s: float | None) -> float:
        """Full-jitter backoff for retry number ``retry`` (0-based); a server's Retry-After is a floor."""
        backoff = rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**retry))
        if retry_after_s is not None:
            return max(min(retry_after_s, self.max_delay_s * 4), backoff)
        return backoff


async def retry_call(call: Callable[[], Awaitable[T]], policy: RetryPolicy, rng: random.Random, what: str) -> T:
    """Run ``call`` with a timeout, retrying retryable ``TargetError``s; raise the last error when retries run
    out or the error is final. ``what`` names the call in a timeout message."""
    retry = 0
    while True:
        try:
            async with asyncio.timeout(policy.timeout_s):
                return await call()
        except TimeoutError:
            error = TargetError(f"{what}: no reply within {policy.timeout_s:g} s", retryable=True)
        except TargetError as exc:
            error = exc
        if not error.retryable or retry >= policy.max_retries:
            if retry:
                raise TargetError(f"{error} (after {retry + 1} tries)", retryable=error.retryable) from error
            raise error
        await asyncio.sleep(policy.delay(retry, rng, error.retry_after_s))
        retry += 1


async def call_with_retries(target: Target, messages: Sequence[Message], params: GenerationParams,
                            policy: RetryPolicy, rng: random.Random) -> Generation:
    """One target call under ``policy``."""
    return await retry_call(lambda: target.generate(messages, params), policy, rng, target.spec.name)
