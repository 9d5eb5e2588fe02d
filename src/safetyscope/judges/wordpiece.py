"""BERT's uncased WordPiece tokenizer (the one all-MiniLM-L6-v2 uses), in pure Python, ids only.

Basic tokenisation as BERT does it for an uncased vocabulary: lower-case, strip accents (NFD, drop combining
marks), split on whitespace and punctuation, then greedy longest-match-first WordPiece with ``##``
continuations; a word with no match, or longer than ``MAX_WORD_CHARS``, is ``[UNK]``. No special tokens are
added. Chinese-character splitting is not done (it does not matter for a bag of token vectors).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

MAX_WORD_CHARS = 100
CACHE_LIMIT = 100_000
"""Words whose pieces are remembered per tokenizer; the cache is cleared when it grows past this."""
UNKNOWN = "[UNK]"
_PIECES = re.compile(r"[^\W_]+|[^\w\s]|_", re.UNICODE)
"""A run of letters/digits, or one punctuation character (BERT splits every punctuation mark off)."""


class WordPiece:
    """Text → vocabulary ids."""

    def __init__(self, vocab: Mapping[str, int]) -> None:
        if UNKNOWN not in vocab:
            raise ValueError(f"the vocabulary has no {UNKNOWN} token")
        self._vocab = vocab
        self._unknown = vocab[UNKNOWN]
        self._cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_file(cls, path: Path) -> WordPiece:
        """From a BERT ``vocab.txt`` (one token per line; the id is the line number from 0)."""
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls({token: index for index, token in enumerate(lines)})

    def ids(self, text: str, limit: int) -> list[int]:
        """The first ``limit`` token ids of ``text``."""
        folded = unicodedata.normalize("NFD", text.lower())
        if not folded.isascii():
            folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn")
        out: list[int] = []
        for word in _PIECES.findall(folded):
            pieces = self._cache.get(word)
            if pieces is None:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                pieces = self._cache[word] = self._split(word)
            out.extend(pieces)
            if len(out) >= limit:
                return out[:limit]
        return out

    def _split(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece of one word."""
        vocab = self._vocab
        whole = vocab.get(word)
        if whole is not None:
            return (whole,)
        if len(word) > MAX_WORD_CHARS:
            return (self._unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self._unknown,)
            pieces.append(found)
            start = end
        return tuple(pieces)
