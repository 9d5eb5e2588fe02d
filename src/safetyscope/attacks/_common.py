"""Shared machinery for the model-free attacks: the rewrite base class, seeded randomness, data files,
and the readability test the decoders use to leave plain-text replies alone."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from safetyscope.core import resources
from safetyscope.core.errors import UsageError
from safetyscope.core.records import ComponentSpec, Message, Sample


class RewriteAttack:
    """Base for deterministic attacks: rewrites the last user turn (and may add turns before it).

    Subclasses override :meth:`rewrite` (one user turn out) or :meth:`build` (several turns out) and, when
    they encode the reply, :meth:`decode`. Turns before and after the last user turn are kept as they are.
    """

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        self.name = name
        self._spec = ComponentSpec(kind="attack", name=name, options=dict(options or {}))

    @property
    def spec(self) -> ComponentSpec:
        return self._spec

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        turns = tuple(messages)
        index = last_user_index(turns)
        if index is None:
            raise UsageError(f"attack '{self.name}' needs a user turn to rewrite")
        built = self.build(turns[index].content, rng_for(self.name, seed), sample)
        return turns[:index] + built + turns[index + 1:]

    def build(self, prompt: str, rng: random.Random, sample: Sample) -> tuple[Message, ...]:
        """The turns that replace the last user turn; the last one must be the user's."""
        return (Message(role="user", content=self.rewrite(prompt, rng)),)

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        """The new text of the last user turn."""
        raise NotImplementedError

    def decode(self, response: str) -> str:
        return response


def last_user_index(messages: Sequence[Message]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    return None


def rng_for(name: str, seed: int) -> random.Random:
    """A generator that depends only on the attack name and the seed (stable across processes)."""
    return random.Random(f"safetyscope.attack:{name}:{seed}")


def user(content: str) -> Message:
    return Message(role="user", content=content)


def assistant(content: str) -> Message:
    return Message(role="assistant", content=content)


# ---- data files --------------------------------------------------------------------------------------------

DATA_PACKAGE = "safetyscope.attacks"


def read_data_text(filename: str) -> str:
    """A file from ``safetyscope/attacks/data`` (read with importlib.resources)."""
    return resources.read_text(DATA_PACKAGE, filename)


def read_data_json(filename: str) -> Any:
    return resources.read_json(DATA_PACKAGE, filename)


def read_data_jsonl(filename: str) -> list[Any]:
    return resources.read_jsonl(DATA_PACKAGE, filename)


def strip_prefix(text: str, prefixes: Sequence[str]) -> str:
    """``text`` without the first of ``prefixes`` it starts with (ignoring case, leading space, quotes)."""
    body = text.lstrip()
    unquoted = body.lstrip("\"'“”‘’*_ ")
    for prefix in prefixes:
        if prefix and unquoted.lower().startswith(prefix.lower()):
            return unquoted[len(prefix):].lstrip("\"'“”‘’*_ ").lstrip()
    return text


# ---- readability: is a reply plain language, or still encoded? ---------------------------------------------

_ENGLISH = (
    "a an the and or but if then of to in on at by for with from as into about over under after before "
    "is are was were be been being am do does did done have has had can could will would shall should "
    "may might must not no yes it its this that these those there here i me my you your he him his she "
    "her we us our they them their what which who whom whose how why when where all any some each every "
    "more most other such only own same so than too very just also up out one two first step steps "
    "make use get go know like want need help please sure here's it's don't i'm you're"
)
_OTHERS = (  # French, Spanish, German, Italian, Portuguese: the commonest function words
    "le la les un une des du de et ou est sont pas que qui pour dans sur avec ce cette je tu il elle "
    "nous vous ils comment pourquoi el los las del y en es por para con una uno como qué cómo yo "
    "der die das und ist nicht ein eine zu mit von den dem ich du wie was wir sie auf für "
    "il lo gli di che non per con una sono come io noi "
    "o os as um uma em não por com como eu você"
)
COMMON_WORDS = frozenset(_ENGLISH.split()) | frozenset(_OTHERS.split())
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def readability(text: str) -> float:
    """Share of words that are common function words (0 for gibberish or no words)."""
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0
    return sum(word in COMMON_WORDS for word in words) / len(words)


def more_readable(raw: str, candidate: str, *, margin: float = 0.1) -> str:
    """``candidate`` (a decoding of ``raw``) if it reads clearly more like language than ``raw``, else ``raw``."""
    try:
        return candidate if readability(candidate) >= readability(raw) + margin else raw
    except Exception:  # a decoder must never raise
        return raw


def plausible_text(text: str) -> bool:
    """Decoded bytes that look like text: printable apart from ordinary whitespace, not empty."""
    if not text.strip():
        return False
    return all(char.isprintable() or char in "\n\r\t" for char in text)

