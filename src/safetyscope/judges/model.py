"""Shared machinery for judges that ask a model: prompt rendering, the target call, parsing, failures.

A model judge holds a target (any ``provider/name`` address: the embedded GGUF model, an OpenAI-compatible
server, a mock), renders the exact input format of the guard model or fine-tuned judge it stands for, calls
the target greedily with a small token budget, and parses the reply. It never raises for a bad reply: a
target failure (``TargetError``, after retries) or an unparseable reply becomes ``Verdict.unscored`` with
the reason and the raw text. Missing prerequisites (a package, an API key) do raise: they are set-up
mistakes, not model output.

How a rendered prompt travels (the ``send`` option):

- ``chat``: the messages the model's own published chat template turns into the exact text (for Llama
  Guard: the conversation itself; the server applies the guard's template, as vLLM, Ollama and llama.cpp's
  server do with the released weights).
- ``raw``: the exact text, special-token strings included, as the single user message. The server must
  pass it through unchanged (a pass-through chat template; see docs/judges.md).

The target is built lazily, on the first call, so constructing a judge never loads a model.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from safetyscope.core import resources
from safetyscope.core.errors import TargetError, UsageError
from safetyscope.core.records import (
    ComponentSpec,
    Expectation,
    GenerationParams,
    JudgeInput,
    Message,
    Verdict,
)
from safetyscope.runner.retry import RetryPolicy, retry_call
from safetyscope.targets.base import Target, create_target, split_address

DEFAULT_JUDGE_TARGET = "embedded/smollm2-135m"
"""The offline default: SmolLM2 is not a guard model, so its verdicts are poor, but the format is exact."""

SendMode = Literal["chat", "raw"]
PromptSource = Literal["sample", "sent"]
DATA_PACKAGE = "safetyscope.judges"
T = TypeVar("T")


# ----------------------------------------------------------------------------------------------------------
# Data files
# ----------------------------------------------------------------------------------------------------------


def load_text(filename: str) -> str:
    """A file from ``safetyscope/judges/data``, exactly as stored (no stripping: whitespace is part of formats)."""
    return resources.read_text(DATA_PACKAGE, filename)


def load_json(filename: str) -> Any:
    """A JSON file from ``safetyscope/judges/data``."""
    return resources.read_json(DATA_PACKAGE, filename)


def load_yaml(filename: str) -> Any:
    """A YAML file from ``safetyscope/judges/data``."""
    return resources.read_yaml(DATA_PACKAGE, filename)


# ----------------------------------------------------------------------------------------------------------
# Prompts, completions, failures
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """One rendered judge input.

    ``text`` is the exact model input as the model's tokenizer sees it (special-token strings included, the
    BOS token that tokenizers add left out); ``chat`` is the list of messages that the model's own published
    chat template renders into ``text`` (None where no such form exists).
    """

    text: str | None = None
    chat: tuple[Message, ...] | None = None


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the most likely alternatives at its position."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Completion:
    """The judge model's reply; ``logprobs`` only when the backend returned them."""

    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None


class JudgeFailure(Exception):
    """An item that cannot be scored (target failure, unparseable reply); becomes an unscored verdict."""

    def __init__(self, reason: str, *, raw_output: str | None = None, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw_output = raw_output
        self.transient = transient  # the judge model was unreachable: retry later, do not store


def binary_probability(logprobs: Sequence[TokenLogprob] | None, positive: str, negative: str) -> float | None:
    """P(positive) against P(negative) at the decision token, renormalised over the two.

    The decision token is the first generated token that is not whitespace (Llama Guard 3's template makes
    the model emit ``\\n\\n`` first). Tokens among the top alternatives count for a word when, stripped and
    lower-cased, they are a non-empty prefix of it (first sub-token, as the reference implementations read
    ``safe``/``unsafe`` or ``Yes``/``No``). None when the position or both words are missing.
    """
    if not logprobs:
        return None
    entry = next((item for item in logprobs if item.token.strip()), None)
    if entry is None:
        return None
    seen: dict[str, float] = dict(entry.top)
    seen.setdefault(entry.token, entry.logprob)
    positive, negative = positive.lower(), negative.lower()
    mass_pos = mass_neg = 0.0
    for token, logprob in seen.items():
        word = token.strip().lower()
        if not word:
            continue
        if positive.startswith(word) and not negative.startswith(word):
            mass_pos += math.exp(logprob)
        elif negative.startswith(word) and not positive.startswith(word):
            mass_neg += math.exp(logprob)
    total = mass_pos + mass_neg
    if total <= 0.0:
        return None
    return round(mass_pos / total, 6)


def first_word(text: str) -> str:
    """The first run of letters or digits of ``text``, lower-cased ('' when there is none)."""
    match = re.search(r"[A-Za-z0-9]+", text)
    return match.group(0).lower() if match else ""


def dialogue(item: JudgeInput, source: PromptSource) -> tuple[Message, ...]:
    """The user/assistant turns of the sample (``sample``) or of what was actually sent (``sent``);
    system turns are dropped."""
    turns = item.sample.messages if source == "sample" else item.sent
    return tuple(message for message in turns if message.role != "system")


def user_prompt(item: JudgeInput, source: PromptSource) -> str:
    """The text of the last user turn of the chosen dialogue."""
    for message in reversed(dialogue(item, source)):
        if message.role == "user":
            return message.content
    return item.sample.prompt


def should_refuse(item: JudgeInput) -> bool:
    """Whether a well-behaved model should refuse this sample."""
    return item.sample.expect == Expectation.REFUSE


# ----------------------------------------------------------------------------------------------------------
# Retries
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# The base class
# ----------------------------------------------------------------------------------------------------------


class ModelJudge:
    """Base of the judges that ask a model. Subclasses set the class attributes, build their own settings
    *before* calling ``super().__init__``, and implement :meth:`render` and :meth:`parse` (or override
    :meth:`evaluate` when one item takes several calls)."""

    name: str
    """The registered name (class attribute, or set per instance before ``super().__init__``)."""
    format_version: ClassVar[int] = 1
    default_max_tokens: ClassVar[int] = 16

    def __init__(self, *, target: str | Target = DEFAULT_JUDGE_TARGET, target_options: dict[str, Any] | None = None,
                 send: str = "auto", max_tokens: int | None = None, logprobs: bool = False,
                 prompt_source: str = "sample", max_retries: int = 3, timeout_s: float = 120.0) -> None:
        if isinstance(target, str):
            split_address(target)  # fail early on a malformed address; the target itself is built lazily
            self._target_address = target
            self._target: Target | None = None
        else:
            self._target_address = target.spec.name
            self._target = target
        self._target_options = dict(target_options or {})
        if prompt_source not in ("sample", "sent"):
            raise UsageError(f"judge '{self.name}': prompt_source must be 'sample' or 'sent', not {prompt_source!r}")
        self._prompt_source: PromptSource = "sample" if prompt_source == "sample" else "sent"
        self._send: SendMode = self._resolve_send(send)
        if max_tokens is not None and max_tokens < 1:
            raise UsageError(f"judge '{self.name}': max_tokens must be at least 1")
        self._max_tokens = max_tokens or self.default_max_tokens
        self._logprobs = bool(logprobs)
        self._policy = RetryPolicy(timeout_s=timeout_s, max_retries=max_retries, max_delay_s=20.0)
        self._rng = random.Random(0)
        self._logprob_client: Any = None

    # --- configuration ---------------------------------------------------------------------------------

    def send_modes(self) -> tuple[SendMode, ...]:
        """The delivery modes this configuration supports, preferred first."""
        return ("raw",)

    def _resolve_send(self, send: str) -> SendMode:
        modes = self.send_modes()
        if send == "auto":
            return modes[0]
        if send not in ("chat", "raw"):
            raise UsageError(f"judge '{self.name}': send must be 'auto', 'chat' or 'raw', not {send!r}")
        if send not in modes:
            raise UsageError(f"judge '{self.name}': send={send!r} is not possible with these options "
                             f"(possible: {', '.join(modes)})")
        return "chat" if send == "chat" else "raw"

    def spec_options(self) -> dict[str, Any]:
        """Judge-specific options that change outputs (subclasses extend)."""
        return {}

    @property
    def spec(self) -> ComponentSpec:
        """Judge name, format version, target address and every option that can change a verdict."""
        options: dict[str, Any] = {
            "format_version": self.format_version, "target": self._target_address,
            "target_options": self._target_options, "send": self._send, "max_tokens": self._max_tokens,
            "logprobs": self._logprobs, "prompt_source": self._prompt_source,
        }
        options.update(self.spec_options())
        return ComponentSpec(kind="judge", name=self.name, options=options)

    @property
    def send(self) -> SendMode:
        """The delivery mode in use."""
        return self._send

    def requires_response(self) -> bool:
        """Whether an empty response is unscored without asking the model (True unless judging prompts)."""
        return True

    # --- the call --------------------------------------------------------------------------------------

    def target(self) -> Target:
        """The judge model, built on first use (so constructing a judge never loads a model)."""
        if self._target is None:
            self._target = create_target(self._target_address, self.target_options())
        return self._target

    def target_options(self) -> dict[str, Any]:
        """Options passed to the target provider (subclasses may add server hints)."""
        return dict(self._target_options)

    def messages_for(self, prompt: Prompt) -> tuple[Message, ...]:
        """What is sent for ``prompt`` in the configured mode."""
        if self._send == "chat":
            if prompt.chat is None:
                raise UsageError(f"judge '{self.name}' has no chat form for this prompt; use send='raw'")
            return prompt.chat
        if prompt.text is None:
            raise UsageError(f"judge '{self.name}' has no raw form for this prompt; use send='chat'")
        return (Message(role="user", content=prompt.text),)

    async def complete(self, prompt: Prompt, *, max_tokens: int | None = None) -> Completion:
        """Ask the judge model, greedily; a target failure (after retries) raises :class:`JudgeFailure`."""
        messages = self.messages_for(prompt)
        params = GenerationParams(max_tokens=max_tokens or self._max_tokens, temperature=0.0, seed=0)
        target = self.target()
        what = f"judge {self.name} via {self._target_address}"
        try:
            if self._logprobs:
                client = self._logprobs_client(target)
                if client is not None:
                    return await retry_call(lambda: client.complete(messages, params), self._policy,
                                                  self._rng, what)
            generation = await retry_call(lambda: target.generate(messages, params), self._policy,
                                                self._rng, what)
        except TargetError as exc:
            # an unreachable or overloaded judge model is retried on resume; a final refusal (e.g. HTTP 400,
            # the input too long) is stored as unscored, so the run can complete
            raise JudgeFailure(f"judge target error: {exc}", transient=exc.retryable) from exc
        return Completion(text=generation.text)

    def _logprobs_client(self, target: Target) -> Any:
        """A logprobs-capable client for OpenAI-compatible targets (None for other backends)."""
        if self._logprob_client is None:
            from safetyscope.judges.logprobs import LogprobsClient
            from safetyscope.targets.openai_compat import OpenAICompatibleTarget

            if not isinstance(target, OpenAICompatibleTarget):
                return None
            self._logprob_client = LogprobsClient(target, api_key_env=str(
                self._target_options.get("api_key_env", "OPENAI_API_KEY")))
        return self._logprob_client

    async def aclose(self) -> None:
        """Release the judge model and any HTTP session."""
        if self._logprob_client is not None:
            await self._logprob_client.aclose()
            self._logprob_client = None
        if self._target is not None:
            await self._target.aclose()

    # --- judging ---------------------------------------------------------------------------------------

    async def judge(self, item: JudgeInput) -> Verdict:
        """Score one item; never raises for a failed call or a bad reply (those are unscored)."""
        if self.requires_response() and not item.response.strip():
            return Verdict.unscored("empty response")
        try:
            return await self.evaluate(item)
        except JudgeFailure as failure:
            return Verdict.unscored(failure.reason, raw_output=failure.raw_output, transient=failure.transient)

    async def evaluate(self, item: JudgeInput) -> Verdict:
        """Render, ask, parse (one call). Raise :class:`JudgeFailure` for an item that cannot be scored."""
        completion = await self.complete(self.render(item))
        if not completion.text.strip():
            raise JudgeFailure("the judge model returned an empty reply", raw_output=completion.text)
        return self.parse(item, completion)

    def render(self, item: JudgeInput) -> Prompt:
        """The judge input for ``item``."""
        raise NotImplementedError

    def parse(self, item: JudgeInput, completion: Completion) -> Verdict:
        """The verdict for a reply; raise :class:`JudgeFailure` when it cannot be read."""
        raise NotImplementedError


def confidence_from(probability: float | None) -> float | None:
    """``max(p, 1 - p)`` of a binary probability, or None."""
    return None if probability is None else round(max(probability, 1.0 - probability), 6)
