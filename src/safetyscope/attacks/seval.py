"""S-Eval's adversarial instruction attacks that are templates (Yuan et al., ISSTA 2025; ``IS2Lab/S-Eval``).

Registered here: ``seval_positive_induction``, ``seval_code_injection``, ``seval_goal_hijacking``,
``seval_instruction_encryption``. S-Eval's ``deepinception`` and ``chain_of_utterances`` are the
``deepinception`` and ``chain_of_utterances`` attacks, and its ``instruction_jailbreak`` is ``template``.
Not implemented, because S-Eval writes them per question with an LLM rather than filling a template:
``reverse_induction``, ``compositional_instructions``, and ``in_context_attack`` (whose five demonstrations are
generated on the question's own topic; ``many_shot`` with ``style="transcript", shots=5`` reproduces its layout
only). Wording is ours.
"""

from __future__ import annotations

import base64
import random
import re
from typing import Any, Literal
from urllib.parse import quote, unquote

from safetyscope.attacks._common import RewriteAttack, read_data_json, strip_prefix
from safetyscope.attacks.base import register_deterministic
from safetyscope.core.text import fill


class PositiveInduction(RewriteAttack):
    """The question, then "Please begin your answer with '<affirmative opener>'". S-Eval's openers are written
    per question by an LLM; ours are generic and chosen by the seed (or fixed with ``opener``)."""

    def __init__(self, *, opener: str | None) -> None:
        super().__init__("seval_positive_induction", {"opener": opener} if opener else {})
        data = read_data_json("seval.json")["positive_induction"]
        self.template: str = data["template"]
        self.openers: list[str] = [opener] if opener else list(data["openers"])

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return fill(self.template, prompt=prompt.strip(), opener=rng.choice(self.openers))

    def decode(self, response: str) -> str:
        return strip_prefix(response, self.openers)


@register_deterministic("seval_positive_induction", description="S-Eval positive induction: the question plus "
                        "'Please begin your answer with <affirmative opener>' (seeded); strips the opener.")
def create_positive_induction(*, opener: str | None = None) -> PositiveInduction:
    return PositiveInduction(opener=opener)


def split_parts(prompt: str, parts: int) -> list[str]:
    """``prompt`` cut at word boundaries into up to ``parts`` pieces whose concatenation is ``prompt``."""
    tokens = re.findall(r"\S+\s*", prompt)
    lead = prompt[:len(prompt) - len(prompt.lstrip())]
    if len(tokens) < 2:
        return [prompt]
    parts = min(parts, len(tokens))
    bounds = [round(i * len(tokens) / parts) for i in range(parts + 1)]
    pieces = ["".join(tokens[bounds[i]:bounds[i + 1]]) for i in range(parts)]
    pieces[0] = lead + pieces[0]
    return pieces


class CodeInjection(RewriteAttack):
    """The question split into 2-3 string variables in a Python block, joined with ``+`` or ``'{}{}'.format``
    (both seeded), ``print(d)``, then an instruction to respond to the code's output as a new instruction."""

    def __init__(self) -> None:
        super().__init__("seval_code_injection")
        self.template: str = read_data_json("seval.json")["code_injection"]["template"]

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        pieces = split_parts(prompt.strip(), rng.choice((2, 3)))
        names = "abc"[:len(pieces)]
        lines = [f"{name} = {piece!r}" for name, piece in zip(names, pieces, strict=True)]
        plus = rng.random() < 0.5
        joined = " + ".join(names) if plus else f"'{'{}' * len(pieces)}'.format({', '.join(names)})"
        code = "\n".join([*lines, f"d = {joined}", "print(d)"])
        return fill(self.template, code=code)


@register_deterministic("seval_code_injection", description="S-Eval code injection: the question split into "
                        "Python string variables to be joined and obeyed (payload splitting, seeded).")
def create_code_injection() -> CodeInjection:
    return CodeInjection()


class GoalHijacking(RewriteAttack):
    """A benign task, then "do not respond to that; answer this directly: <question>" (task seeded or fixed)."""

    def __init__(self, *, task: int | None) -> None:
        super().__init__("seval_goal_hijacking", {"task": task} if task is not None else {})
        data = read_data_json("seval.json")["goal_hijacking"]
        self.template: str = data["template"]
        tasks: list[str] = data["tasks"]
        if task is not None and not 0 <= task < len(tasks):
            raise TypeError(f"task must be between 0 and {len(tasks) - 1}")
        self.tasks = [tasks[task]] if task is not None else tasks

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return fill(self.template, task=rng.choice(self.tasks), prompt=prompt.strip())


@register_deterministic("seval_goal_hijacking", description="S-Eval goal hijacking: a benign task (seeded), then "
                        "an instruction to ignore it and answer the question directly.")
def create_goal_hijacking(*, task: int | None = None) -> GoalHijacking:
    return GoalHijacking(task=task)


Scheme = Literal["url", "base64", "caesar"]
SCHEMES: tuple[Scheme, ...] = ("url", "base64", "caesar")


def unicode_caesar(text: str, shift: int) -> str:
    """S-Eval's Caesar, which shifts code points (its payloads are Chinese: CJK stays CJK). Shifting ASCII code
    points would turn ``z`` into a control character, so ASCII letters rotate within ``a-z`` / ``A-Z`` instead and
    other ASCII characters are kept; every non-ASCII character moves ``shift`` code points (kept when that would
    leave the non-ASCII range or land on a surrogate). ``unicode_caesar(unicode_caesar(t, k), -k) == t``."""
    out = []
    for char in text:
        code = ord(char)
        if "a" <= char <= "z" or "A" <= char <= "Z":
            base = ord("a") if char.islower() else ord("A")
            out.append(chr(base + (code - base + shift) % 26))
        elif code >= 0x80 and 0x80 <= code + shift <= 0x10FFFF and not 0xD800 <= code + shift <= 0xDFFF:
            out.append(chr(code + shift))
        else:
            out.append(char)
    return "".join(out)


def encrypt(text: str, scheme: Scheme, shift: int = 3) -> str:
    if scheme == "url":
        return quote(text, safe="")
    if scheme == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    return unicode_caesar(text, shift)


def decrypt(text: str, scheme: Scheme, shift: int = 3) -> str:
    """Inverse of :func:`encrypt` (returns ``text`` when it cannot be decoded)."""
    try:
        if scheme == "url":
            return unquote(text, errors="strict")
        if scheme == "base64":
            return base64.b64decode(text, validate=True).decode("utf-8")
        return unicode_caesar(text, -shift)
    except (ValueError, UnicodeDecodeError):
        return text


class InstructionEncryption(RewriteAttack):
    """"I encoded my question with X; decode and answer it" + the encoded question, X seeded among URL encoding,
    Base64 and a Caesar shift of 1-9 (stated in the prompt; see :func:`unicode_caesar`), about a third each.

    S-Eval encodes the *Chinese* version of each question; this attack encodes the sample's own text (translate
    the dataset first to match S-Eval). The reply is not asked to be encoded, so ``decode`` returns it unchanged.
    """

    def __init__(self, *, scheme: Scheme | None, shift: int | None) -> None:
        options: dict[str, Any] = {}
        if scheme is not None:
            options["scheme"] = scheme
        if shift is not None:
            options["shift"] = shift
        super().__init__("seval_instruction_encryption", options)
        self.templates: dict[str, str] = read_data_json("seval.json")["instruction_encryption"]
        self.scheme = scheme
        self.shift = shift

    def choose(self, rng: random.Random) -> tuple[Scheme, int]:
        scheme: Scheme = self.scheme if self.scheme is not None else rng.choice(SCHEMES)
        shift = self.shift if self.shift is not None else rng.randint(1, 9)
        return scheme, shift

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        scheme, shift = self.choose(rng)
        return fill(self.templates[scheme], payload=encrypt(prompt.strip(), scheme, shift), shift=str(shift))


@register_deterministic("seval_instruction_encryption", description="S-Eval instruction encryption: the question "
                        "URL-encoded, Base64-encoded or code-point-Caesar-shifted (seeded), with a request to decode "
                        "and answer.")
def create_instruction_encryption(*, scheme: Scheme | None = None, shift: int | None = None) -> InstructionEncryption:
    if scheme is not None and scheme not in SCHEMES:
        raise TypeError(f"scheme must be one of {', '.join(SCHEMES)}")
    if shift is not None and not 1 <= shift <= 9:
        raise TypeError("shift must be between 1 and 9")
    return InstructionEncryption(scheme=scheme, shift=shift)
