"""The attacker model of the model-driven attacks: any registered target, called seeded and with retries.

``Attacker("openai/gpt-4o-mini")`` (or a ready :class:`~safetyscope.targets.base.Target`) is built lazily, so
creating an attack never loads a model. A call passes the attack's seed in the generation params (llama.cpp and
most OpenAI-compatible servers honour it; at temperature 0 the seed is irrelevant and set to 0), goes through
:func:`~safetyscope.runner.retry.retry_call`, and is cached per (messages, params) on the instance. A failure
after retries, an empty reply or an unusable one raises :class:`~safetyscope.core.errors.AttackError`.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from safetyscope.core.errors import AttackError, SafetyscopeError, TargetError
from safetyscope.core.records import GenerationParams, Message
from safetyscope.runner.retry import RetryPolicy, retry_call
from safetyscope.targets.base import Target, create_target, split_address

DEFAULT_ATTACKER = "embedded/smollm2-135m"
"""Offline default. A 135M model rewrites poorly; use a capable model for real red-teaming."""

SEEDED_PROVIDERS = frozenset({"embedded", "mock"})
"""Providers known to honour a sampling seed, so a sampled rewrite is reproducible. Elsewhere the default is
greedy decoding (temperature 0) unless a temperature is given."""

CACHE_SIZE = 4096
DEFAULT_IN_FLIGHT = 8
"""Attacker calls at once when the attacker target sets no ``max_in_flight`` of its own."""
SEED_MODULUS = 2**31  # keeps seeds within what every backend accepts


class Attacker:
    """One attacker model. ``complete`` returns the raw reply text; it raises :class:`AttackError` on failure."""

    def __init__(self, attacker: str | Target = DEFAULT_ATTACKER, *, options: dict[str, Any] | None = None,
                 timeout_s: float = 120.0, max_retries: int = 3) -> None:
        if isinstance(attacker, str):
            self.provider, _ = split_address(attacker)
            self.address = attacker
            self._target: Target | None = None
        else:
            self.address = attacker.spec.name
            self.provider = self.address.partition("/")[0]
            self._target = attacker
        self.options = dict(options or {})
        self._policy = RetryPolicy(timeout_s=timeout_s, max_retries=max_retries, max_delay_s=20.0)
        self._rng = random.Random(0)  # backoff jitter only; never reaches the output
        self._cache: OrderedDict[tuple[tuple[Message, ...], GenerationParams], str] = OrderedDict()
        self._pending: dict[tuple[tuple[Message, ...], GenerationParams], asyncio.Future[str]] = {}
        self._slots: asyncio.Semaphore | None = None

    @property
    def honours_seed(self) -> bool:
        """Whether sampling with a seed is reproducible on this backend."""
        return self.provider in SEEDED_PROVIDERS

    def spec_options(self) -> dict[str, Any]:
        """What identifies the attacker model in an attack's spec."""
        return {"attacker": self.address, "attacker_options": dict(self.options)}

    def target(self) -> Target:
        """The attacker target, built on first use."""
        if self._target is None:
            self._target = create_target(self.address, self.options)
        return self._target

    def params(self, *, seed: int, temperature: float, max_tokens: int, stop: Sequence[str] = ()) -> GenerationParams:
        """Generation params for one call: the seed only matters (and is only kept) when sampling."""
        return GenerationParams(max_tokens=max_tokens, temperature=temperature,
                                seed=seed % SEED_MODULUS if temperature > 0 else 0, stop=tuple(stop))

    async def complete(self, messages: Sequence[Message], params: GenerationParams, *, what: str) -> str:
        """The attacker's reply to ``messages``; ``what`` names the task in error messages. Identical calls share
        one model call (finished or in flight); at most the target's ``max_in_flight`` calls run at once, and a
        call's timeout starts only when it gets a slot. Any failure of the attacker model is an
        :class:`AttackError` (only user-fixable :class:`SafetyscopeError` s, e.g. a missing package, pass)."""
        key = (tuple(messages), params)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            text = await self._call(messages, params, what)
        except asyncio.CancelledError:
            future.cancel()  # the run is stopping; callers sharing this call stop with it
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unshared failure is not reported as unhandled
            raise
        else:
            future.set_result(text)
            self._cache[key] = text
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return text
        finally:
            del self._pending[key]

    async def _call(self, messages: Sequence[Message], params: GenerationParams, what: str) -> str:
        target = self.target()
        if self._slots is None:
            self._slots = asyncio.Semaphore(target.max_in_flight or DEFAULT_IN_FLIGHT)
        try:
            async with self._slots:
                generation = await retry_call(lambda: target.generate(messages, params), self._policy, self._rng,
                                              f"attacker {self.address}")
        except TargetError as exc:
            raise AttackError(f"{what}: attacker model {self.address} failed: {exc}") from exc
        except SafetyscopeError:
            raise  # user-fixable (e.g. the embedded model's package is missing): stop the run
        except Exception as exc:  # a backend bug fails this attack, not the run
            raise AttackError(f"{what}: attacker model {self.address} failed: {type(exc).__name__}: {exc}") from exc
        if not generation.text.strip():
            raise AttackError(f"{what}: attacker model {self.address} returned nothing "
                              f"(finish_reason={generation.finish_reason})")
        return generation.text

    async def aclose(self) -> None:
        """Release the attacker model (a ready target passed in is closed too)."""
        if self._target is not None:
            await self._target.aclose()


# ---- reading a rewrite out of the attacker's reply -----------------------------------------------------------

_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.DOTALL)
_PREAMBLE = re.compile(
    r"^(?:(?:sure|okay|ok|certainly|of course|absolutely|alright|great)\b[\s,!.:-]*)?"
    r"(?:here(?:'s| is| are)|below is|this is|i have|i've)\b[^:\n.!?]{0,100}:[ \t]*\n?", re.IGNORECASE)
_ADJECTIVE = r"(?:rewritten|paraphrased|reformulated|translated|revised|new|mutated|final|english)"
_NOUN = r"(?:request|question|prompt|text|version|translation|rewrite|paraphrase)"
_LABEL = re.compile(
    rf"^(?:\*\*)?(?:the\s+)?(?:{_ADJECTIVE}(?:\s+{_NOUN})?|{_NOUN})(?:\s*\([^)\n]{{0,40}}\))?"
    r"\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "「": "」", "*": "*"}
_CANNOT = r"(?:i\s+(?:can(?:not|'t|’t)|won'?t|will not|am unable to|am not able to)|i'm unable to|i'm not able to)"
_REFUSAL = re.compile(
    r"^(?:(?:i'?m|i am) sorry|sorry|i apologi[sz]e)\b[^.!?\n]{0,40}?\b(?:can(?:not|'t|’t)|won'?t|will not|unable"
    r"|not able)\b"
    rf"|^{_CANNOT}\s+(?:help|assist|comply|fulfil|provide|create|write|rewrite|rephrase|paraphrase|reformulate"
    r"|translate|generate|produce|answer|support|engage|do (?:that|this))"
    r"|^as an ai\b|^i must decline|^i(?: do not| don't| am not|'m not) (?:feel )?comfortable", re.IGNORECASE)


def cut_at(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any ``stop`` string."""
    for marker in stop:
        text = text.split(marker, 1)[0]
    return text


def clean_reply(text: str, stop: Sequence[str] = ()) -> str:
    """The rewritten text alone: nothing from the first ``stop`` string on (for backends that ignore stop
    sequences), no code fence, no "Sure, here is the rewritten request:" preamble, no ``Rewritten:`` label, no
    quotes or bold markers wrapped around the whole text."""
    body = cut_at(text, stop).strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    for _ in range(3):  # a preamble, then a label, then quotes, in any nesting
        before = body
        body = _PREAMBLE.sub("", body, count=1).strip()
        body = _LABEL.sub("", body, count=1).strip()
        body = _unquote(body)
        if body == before:
            break
    return body


def _unquote(text: str) -> str:
    while len(text) >= 2:
        if text.startswith("**") and text.endswith("**") and len(text) > 4:
            text = text[2:-2].strip()
            continue
        closing = _QUOTES.get(text[0])
        if closing is None or not text.endswith(closing):
            return text
        if closing not in "'’" and closing in text[1:-1]:  # an apostrophe may occur inside ("How's")
            return text
        text = text[1:-1].strip()
    return text


def is_refusal(text: str) -> bool:
    """Whether the attacker declined the task instead of doing it."""
    return bool(_REFUSAL.match(text.strip().lstrip("\"'“*").strip()))


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def usable_rewrite(raw: str, original: str, *, what: str, stop: Sequence[str] = ()) -> str:
    """The cleaned rewrite, or :class:`AttackError` when it is empty, a refusal or the request unchanged."""
    text = clean_reply(raw, stop)
    if not text:
        raise AttackError(f"{what}: the attacker's reply holds no rewrite: {raw[:200]!r}")
    if is_refusal(text):
        raise AttackError(f"{what}: the attacker model refused to rewrite: {text[:200]!r}")
    if _normal(text) == _normal(original):
        raise AttackError(f"{what}: the attacker returned the request unchanged")
    return text
