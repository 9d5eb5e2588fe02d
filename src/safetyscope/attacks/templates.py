"""Template attacks: the request placed inside a fixed jailbreak framing (wording ours; texts in
``data/templates.json``, shots in ``data/many_shot.jsonl``).

Methods: prefix injection, refusal suppression, distractors, distractors negated (Wei et al. 2023,
*Jailbroken*); role play, hypothetical and fiction framings (the role-play family of jailbreakchat / Shen et
al. 2023); AIM (jailbreakchat); many-shot jailbreaking (Anil et al. 2024); payload splitting (Kang et al.
2023); DeepInception (Li et al. 2023).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any, Literal

from safetyscope.attacks._common import (
    COMMON_WORDS,
    RewriteAttack,
    assistant,
    read_data_json,
    read_data_jsonl,
    strip_prefix,
    user,
)
from safetyscope.attacks.base import register_deterministic
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message, Sample
from safetyscope.core.text import fill


class FixedTemplate(RewriteAttack):
    """The request substituted into one template from ``data/templates.json``; ``decode`` strips the reply
    prefixes the template asks for (an opener, ``AIM:``, ``Response 2:``)."""

    def __init__(self, name: str, *, options: dict[str, Any] | None = None,
                 values: dict[str, str] | None = None) -> None:
        super().__init__(name, options)
        self.entry: dict[str, Any] = read_data_json("templates.json")[name]
        self.template: str = self.entry["template"]
        self.values = dict(values or {})
        self.reply_prefixes: list[str] = list(self.entry.get("reply_prefixes", []))

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return fill(self.template, **self.values, prompt=prompt.strip())

    def decode(self, response: str) -> str:
        return strip_prefix(response, self.reply_prefixes) if self.reply_prefixes else response


@register_deterministic("prefix_injection", description="Ask the reply to open with an eager fixed sentence, "
                        "repeated after the request (Wei et al. 2023); strips that opener from the reply.")
def create_prefix_injection(*, opener: str | None = None) -> FixedTemplate:
    attack = FixedTemplate("prefix_injection", options={"opener": opener} if opener else {})
    chosen = opener or attack.entry["opener"]
    attack.values["opener"] = chosen
    attack.reply_prefixes = [chosen]
    return attack


@register_deterministic("refusal_suppression", description="Rules forbidding apologies, disclaimers and refusal "
                        "words, before and after the request (Wei et al. 2023).")
def create_refusal_suppression() -> FixedTemplate:
    return FixedTemplate("refusal_suppression")


@register_deterministic("role_play", description="The request asked of an always-helpful expert character in a "
                        "stage play (role-play jailbreak family).")
def create_role_play() -> FixedTemplate:
    return FixedTemplate("role_play")


@register_deterministic("hypothetical", description="The request framed as a purely hypothetical thought "
                        "experiment whose full answer is wanted.")
def create_hypothetical() -> FixedTemplate:
    return FixedTemplate("hypothetical")


@register_deterministic("fiction", description="A short story in which an expert explains the request in full "
                        "detail as dialogue (fiction framing).")
def create_fiction() -> FixedTemplate:
    return FixedTemplate("fiction")


@register_deterministic("aim", description="AIM persona ('always intelligent and Machiavellian', jailbreakchat): "
                        "the request is Niccolo's question; strips the 'AIM:' prefix from the reply.")
def create_aim() -> FixedTemplate:
    return FixedTemplate("aim")


@register_deterministic("distractors", description="The request hidden as the twist of the second of three "
                        "unrelated tasks (Wei et al. 2023).")
def create_distractors() -> FixedTemplate:
    return FixedTemplate("distractors")


@register_deterministic("distractors_negated", description="A duck poem request, the real request, then 'forget "
                        "the duck poem' (Wei et al. 2023).")
def create_distractors_negated() -> FixedTemplate:
    return FixedTemplate("distractors_negated")


@register_deterministic("deepinception", description="DeepInception (Li et al. 2023): nested fiction layers "
                        "whose characters plan the request; defaults match S-Eval (science fiction, 5, 5).")
def create_deepinception(*, scene: str = "science fiction", characters: int = 5, layers: int = 5) -> FixedTemplate:
    if characters < 1 or layers < 1:
        raise TypeError("characters and layers must be at least 1")
    return FixedTemplate("deepinception", options={"scene": scene, "characters": characters, "layers": layers},
                         values={"scene": scene, "characters": str(characters), "layers": str(layers)})


# ---- payload splitting --------------------------------------------------------------------------------------

_VARIABLE_NAMES = "abcdefghijklmnorstuvwxyz"  # p and q are taken by the worked example


class PayloadSplitting(FixedTemplate):
    """Kang et al. 2023: the request's most salient words are each cut in two and stored in variables (in a
    seeded order); the request refers to them as ``[a_0 + a_1]``; a worked example shows how to join them.

    Upstream asks an LLM which words a filter would flag; here the longest non-function words stand in for them.
    """

    def __init__(self, *, words: int) -> None:
        super().__init__("payload_splitting", options={"words": words})
        self.words = words
        self.values["example_variables"] = self.entry["example_variables"]

    def split(self, prompt: str, rng: random.Random) -> tuple[str, list[str]]:
        candidates = [match for match in re.finditer(r"[^\W\d_]{4,}", prompt)
                      if match.group(0).lower() not in COMMON_WORDS]
        chosen = sorted(sorted(candidates, key=lambda match: -len(match.group(0)))[:self.words],
                        key=lambda match: match.start())
        lines: list[str] = []
        pieces: list[str] = []
        cursor = 0
        for name, match in zip(_VARIABLE_NAMES, chosen, strict=False):
            word = match.group(0)
            cut = len(word) // 2
            lines += [f'{name}_0 = "{word[:cut]}"', f'{name}_1 = "{word[cut:]}"']
            pieces += [prompt[cursor:match.start()], f"[{name}_0 + {name}_1]"]
            cursor = match.end()
        pieces.append(prompt[cursor:])
        rng.shuffle(lines)
        return "".join(pieces), lines

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        masked, lines = self.split(prompt.strip(), rng)
        return fill(self.template, example_variables=self.values["example_variables"], variables="\n".join(lines),
                    prompt=masked)


@register_deterministic("payload_splitting", description="Salient words cut into string variables joined as "
                        "[a_0 + a_1], seeded order, with a worked example (Kang et al. 2023); strips 'Response 2:'.")
def create_payload_splitting(*, words: int = 3) -> PayloadSplitting:
    if words < 1:
        raise TypeError("words must be at least 1")
    return PayloadSplitting(words=words)


# ---- many-shot ----------------------------------------------------------------------------------------------


class ManyShot(RewriteAttack):
    """Anil et al. 2024: ``shots`` fabricated exchanges in which the assistant complies, then the request.

    ``style="turns"`` sends them as real user/assistant messages; ``style="transcript"`` as one user message of
    ``User:``/``Assistant:`` lines (the paper's single long prompt; S-Eval's in-context attack layout). Shots
    are drawn in a seeded order from ``data/many_shot.jsonl`` (our own mild examples) or from ``path`` (JSONL of
    ``{"user": ..., "assistant": ...}``), cycling when more are asked for than exist.
    """

    def __init__(self, *, shots: int, style: Literal["turns", "transcript"], path: str | None) -> None:
        options: dict[str, Any] = {"shots": shots, "style": style}
        if path:
            options["path"] = path
        super().__init__("many_shot", options)
        self.shots = shots
        self.style = style
        rows = _read_shots(path) if path else read_data_jsonl("many_shot.jsonl")
        self.bank: list[tuple[str, str]] = [(row["user"], row["assistant"]) for row in rows]

    def pick(self, rng: random.Random) -> list[tuple[str, str]]:
        chosen: list[tuple[str, str]] = []
        while len(chosen) < self.shots:
            order = list(self.bank)
            rng.shuffle(order)
            chosen += order[:self.shots - len(chosen)]
        return chosen

    def build(self, prompt: str, rng: random.Random, sample: Sample) -> tuple[Message, ...]:
        shots = self.pick(rng)
        if self.style == "transcript":
            lines = "".join(f"User: {question}\nAssistant: {answer}\n\n" for question, answer in shots)
            return (user(f"{lines}User: {prompt}"),)
        turns: list[Message] = []
        for question, answer in shots:
            turns += [user(question), assistant(answer)]
        return (*turns, user(prompt))


def _read_shots(path: str) -> list[dict[str, str]]:
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read many-shot examples from {path}: {exc}") from exc
    if not rows or not all(isinstance(row, dict) and isinstance(row.get("user"), str)
                           and isinstance(row.get("assistant"), str) for row in rows):
        raise UsageError(f'{path}: expected JSONL rows {{"user": "...", "assistant": "..."}}')
    return rows


@register_deterministic("many_shot", description="Many-shot jailbreaking (Anil et al. 2024): N fabricated "
                        "compliant user/assistant turns before the request; N = shots option (default 16).")
def create_many_shot(*, shots: int = 16, style: Literal["turns", "transcript"] = "turns",
                     path: str | None = None) -> ManyShot:
    if shots < 1:
        raise TypeError("shots must be at least 1")
    if style not in ("turns", "transcript"):
        raise TypeError("style must be 'turns' or 'transcript'")
    return ManyShot(shots=shots, style=style, path=path)
