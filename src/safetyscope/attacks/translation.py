"""Translation attacks: the attacker model translates the request into another language, and ``adecode``
translates the target's reply back into English before judging.

Both directions are greedy by default (temperature 0: a translation should be faithful, not varied). A forward
translation that is empty, a refusal, the English text unchanged, or (for a language with its own script)
mostly not in that script is an :class:`AttackError`; so is a back-translation the attacker refused to make.
"""

from __future__ import annotations

from typing import Any, ClassVar

from safetyscope.attacks.attacker import clean_reply, is_refusal, usable_rewrite
from safetyscope.attacks.rewrite import ModelRewriteAttack
from safetyscope.core.errors import AttackError, UsageError
from safetyscope.core.records import Message
from safetyscope.core.text import fill

MIN_SCRIPT_SHARE = 0.5
"""Default share of a translation's letters that must be in the target language's script, where it has one."""


def script_share(text: str, ranges: list[tuple[int, int]]) -> float:
    """Share of the letters of ``text`` whose code point lies in one of ``ranges`` (0 without letters)."""
    letters = [ord(char) for char in text if char.isalpha()]
    if not letters:
        return 0.0
    return sum(any(low <= code <= high for low, high in ranges) for code in letters) / len(letters)


def parse_ranges(spans: list[str]) -> list[tuple[int, int]]:
    """``["0D00-0D7F"]`` → ``[(0x0D00, 0x0D7F)]``."""
    ranges = []
    for span in spans:
        low, _, high = span.partition("-")
        ranges.append((int(low, 16), int(high or low, 16)))
    return ranges


REFUSAL_LENGTH_RATIO = 0.4
"""A refusal-shaped back-translation shorter than this share of the reply it translates is the attacker refusing
to translate, not the target refusing."""

class TranslationAttack(ModelRewriteAttack):
    """The request translated into ``language`` (a code in ``data/model_rewrites.yaml``); the reply translated
    back. ``decode_max_tokens`` bounds the back-translation (default 768); ``min_script_share`` is the share of
    the translation's letters that must be in the language's own script (default 0.5; 0 turns the check off)."""

    default_temperature: ClassVar[float] = 0.0
    default_max_tokens: ClassVar[int] = 512

    def __init__(self, name: str, language: str, *, decode_max_tokens: int = 768,
                 min_script_share: float = MIN_SCRIPT_SHARE, **options: Any) -> None:
        super().__init__(name, **options)
        languages: dict[str, Any] = self.prompts["languages"]
        if language not in languages:
            raise UsageError(f"attack '{name}': unknown language '{language}' (known: {', '.join(languages)})")
        if decode_max_tokens < 1:
            raise UsageError(f"attack '{name}': decode_max_tokens must be at least 1")
        self.language = language
        self.language_name: str = languages[language]["name"]
        self.script = parse_ranges(languages[language].get("script", []))
        self.decode_max_tokens = decode_max_tokens
        self.min_script_share = min_script_share

    def spec_options(self) -> dict[str, Any]:
        return {"language": self.language, "decode_max_tokens": self.decode_max_tokens,
                "min_script_share": self.min_script_share}

    def render(self, prompt: str) -> str:
        return fill(self.prompts["translate_template"], language=self.language_name, prompt=prompt.strip())

    def extract(self, reply: str, prompt: str) -> str:
        text = usable_rewrite(reply, prompt, what=self.what)
        if self.script and script_share(text, self.script) < self.min_script_share:
            raise AttackError(f"{self.what}: the attacker's translation is not in {self.language_name} script: "
                              f"{text[:200]!r}")
        return text

    async def adecode(self, response: str) -> str:
        """The reply in English, translated greedily by the attacker model (an empty reply stays empty)."""
        if not response.strip():
            return response
        request = (Message(role="user", content=fill(self.prompts["back_translate_template"], text=response)),)
        params = self.attacker.params(seed=0, temperature=0.0, max_tokens=self.decode_max_tokens)
        what = f"{self.what} (translating the reply back to English)"
        text = clean_reply(await self.attacker.complete(request, params, what=what))
        if not text:
            raise AttackError(f"{what}: the attacker's reply holds no translation")
        if is_refusal(text) and ("translat" in text[:300].lower() or len(text) < REFUSAL_LENGTH_RATIO * len(response)):
            # a refusal that names the task, or one far shorter than the reply it stands for, is the translator
            # declining (a target's own short refusal translates to about its own length)
            raise AttackError(f"{what}: the attacker model refused to translate: {text[:200]!r}")
        return text
