"""SORRY-Bench's four encoding mutations (Xie et al., ICLR 2025): ``ascii``, ``caesar``, ``morse``, ``atbash``.

The encoders are CipherChat's "experts" (Yuan et al. 2023, ``RobustNLP/CipherChat:encode_experts.py``) and the
prompt has SORRY-Bench's one-user-turn layout, verified against released prompts::

    <CipherChat expert preamble>\\n
    Example 0\\n<encoded demo>\\n   Example 1\\n<encoded demo>\\n   Example 2\\n<encoded demo>\\n
    \\n\\nFollowing is my request you should respond to (in <cipher>): <encoded request>

Deliberate differences from upstream (see docs/attacks.md): Atbash is case-aware (upstream turns capitals into
non-letters); the demonstrations are our own mild ones unless ``demos_path`` gives others; the decoders are
tolerant and leave a plain-language reply unchanged.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from safetyscope.attacks._common import RewriteAttack, more_readable, read_data_json
from safetyscope.attacks.base import register_deterministic
from safetyscope.core.errors import UsageError

# ---- CipherChat encoders, and tolerant decoders ------------------------------------------------------------


def caesar_encode(text: str, shift: int = 3) -> str:
    """Shift ASCII letters by ``shift`` (case kept); every other character unchanged."""
    out = []
    for char in text:
        if "a" <= char <= "z":
            out.append(chr(ord("a") + (ord(char) - ord("a") + shift) % 26))
        elif "A" <= char <= "Z":
            out.append(chr(ord("A") + (ord(char) - ord("A") + shift) % 26))
        else:
            out.append(char)
    return "".join(out)


def caesar_decode(text: str) -> str:
    """Shift back by 3, if that reads more like language than the reply as it is."""
    return more_readable(text, caesar_encode(text, -3))


def atbash_encode(text: str) -> str:
    """A<->Z, B<->Y, ... for ASCII letters, case kept (an involution)."""
    out = []
    for char in text:
        if "a" <= char <= "z":
            out.append(chr(ord("a") + ord("z") - ord(char)))
        elif "A" <= char <= "Z":
            out.append(chr(ord("A") + ord("Z") - ord(char)))
        else:
            out.append(char)
    return "".join(out)


def atbash_decode(text: str) -> str:
    return more_readable(text, atbash_encode(text))


def ascii_encode(text: str) -> str:
    """Each character -> its decimal code point and a space; a newline after every input line."""
    return "".join(" ".join(str(ord(char)) for char in line) + (" " if line else "") + "\n"
                   for line in text.split("\n"))


def _is_code(token: str) -> bool:
    return token.isdigit() and int(token) <= 0x10FFFF


def ascii_decode(text: str) -> str:
    """Decode when most tokens are code points; lines are kept apart (upstream joins them)."""
    tokens = text.split()
    if not tokens or sum(_is_code(token) for token in tokens) < 0.8 * len(tokens):
        return text
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines = lines[:-1]  # the newline the encoder puts after the last line
    decoded = []
    for line in lines:
        chars = []
        for token in line.split():
            try:
                chars.append(chr(int(token)) if _is_code(token) else token)
            except (ValueError, OverflowError):
                chars.append(token)
        decoded.append("".join(chars))
    return "\n".join(decoded)


MORSE = {
    "A": ".-", "B": "-...", "C": "-.-.", "D": "-..", "E": ".", "F": "..-.", "G": "--.", "H": "....",
    "I": "..", "J": ".---", "K": "-.-", "L": ".-..", "M": "--", "N": "-.", "O": "---", "P": ".--.",
    "Q": "--.-", "R": ".-.", "S": "...", "T": "-", "U": "..-", "V": "...-", "W": ".--", "X": "-..-",
    "Y": "-.--", "Z": "--..", "1": ".----", "2": "..---", "3": "...--", "4": "....-", "5": ".....",
    "6": "-....", "7": "--...", "8": "---..", "9": "----.", "0": "-----", ".": ".-.-.-", "?": "..--..",
    "/": "-..-.", "-": "-....-", "(": "-.--.", ")": "-.--.-",
}  # CipherChat's table; its comma entry is keyed ", " and never matches, so commas pass through as upstream
_FROM_MORSE = {code: char for char, code in MORSE.items()}


def morse_encode(text: str) -> str:
    """Upper-case; each character -> its code and a space; a space adds one more space (word gap = 2+ spaces);
    unknown characters are copied with a space; a newline after every input line (CipherChat)."""
    out = []
    for line in text.upper().split("\n"):
        for char in line:
            out.append(" " if char == " " else MORSE.get(char, char) + " ")
        out.append("\n")
    return "".join(out)


def morse_decode(text: str) -> str:
    """Decode when the reply is mostly dots and dashes; word gaps are 2+ spaces or `` / ``."""
    visible = [char for char in text if not char.isspace()]
    if not visible or sum(char in ".-/" for char in visible) < 0.7 * len(visible):
        return text
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines = lines[:-1]
    decoded = []
    for line in lines:
        line = re.sub(r"[ \t]+/[ \t]+|\t", "  ", line)  # " / " and tabs are word gaps too
        words = [word for word in re.split(r" {2,}", line.strip(" ")) if word.strip()]
        decoded.append(" ".join("".join(_FROM_MORSE.get(token, token) for token in word.split())
                                for word in words))
    return "\n".join(decoded)


CIPHERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    "ascii": (ascii_encode, ascii_decode),
    "caesar": (caesar_encode, caesar_decode),
    "morse": (morse_encode, morse_decode),
    "atbash": (atbash_encode, atbash_decode),
}

# ---- the attack ---------------------------------------------------------------------------------------------


class SorryBenchCipher(RewriteAttack):
    """One user turn: expert preamble, three encoded demonstrations, the marker and the encoded request."""

    def __init__(self, cipher: str, *, demos_path: str | None = None) -> None:
        options = {"demos_path": demos_path} if demos_path else {}
        super().__init__(f"sorry_bench_{cipher}", options)
        self.cipher = cipher
        self.encode, self._decode = CIPHERS[cipher]
        data = read_data_json("sorry_bench_ciphers.json")
        self.preamble: str = data["preambles"][cipher]
        self.marker: str = data["marker"].replace("{cipher}", cipher)
        self.demonstrations: list[str] = _load_demos(demos_path) if demos_path else data["demonstrations"]

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        examples = "".join(f"Example {index}\n{self.encode(demo)}\n"
                           for index, demo in enumerate(self.demonstrations))
        return f"{self.preamble}\n{examples}\n\n{self.marker}{self.encode(prompt)}"

    def decode(self, response: str) -> str:
        try:
            return self._decode(response)
        except Exception:
            return response


def _load_demos(path: str) -> list[str]:
    try:
        demos = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read demonstrations from {path}: {exc}") from exc
    if not isinstance(demos, list) or not all(isinstance(demo, str) for demo in demos):
        raise UsageError(f"{path}: expected a JSON list of strings ('user: ...\\nassistant: ...')")
    return demos


def _factory(cipher: str) -> Callable[..., SorryBenchCipher]:
    def create(*, demos_path: str | None = None) -> SorryBenchCipher:
        return SorryBenchCipher(cipher, demos_path=demos_path)

    return create


_DESCRIPTIONS = {
    "ascii": "SORRY-Bench 'ascii': decimal code points with CipherChat's expert prompt; decodes code replies.",
    "caesar": "SORRY-Bench 'caesar': shift +3 with CipherChat's expert prompt; decodes Caesar replies.",
    "morse": "SORRY-Bench 'morse': Morse code with CipherChat's expert prompt; decodes Morse replies.",
    "atbash": "SORRY-Bench 'atbash': A<->Z with CipherChat's expert prompt; decodes Atbash replies.",
}

for _cipher in CIPHERS:
    register_deterministic(f"sorry_bench_{_cipher}", description=_DESCRIPTIONS[_cipher])(_factory(_cipher))
