"""The real backends: the embedded GGUF model in-process, and llama-cpp-python's own OpenAI-compatible
server on 127.0.0.1 serving the same model to the OpenAI target. Few and short: they run a real model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from safetyscope.core.records import GenerationParams, Message
from safetyscope.targets import create_target
from safetyscope.targets.embedded import BUILTIN_MODELS, resolve_model_path

pytestmark = pytest.mark.model
PROMPT = (Message(role="user", content="What is the capital of France? Answer in one word."),)
PARAMS = GenerationParams(max_tokens=16, temperature=0.0, seed=1)


def test_packaged_model_is_found_through_package_metadata():
    path = resolve_model_path("smollm2-135m")
    assert path.name == BUILTIN_MODELS["smollm2-135m"][1] and path.stat().st_size > 50_000_000


async def test_embedded_model_generates_deterministically():
    target = create_target("embedded/smollm2-135m", {"n_threads": 2})
    first = await target.generate(PROMPT, PARAMS)
    second = await target.generate(PROMPT, PARAMS)
    await target.aclose()
    assert first.text.strip() and first.text == second.text
    assert first.completion_tokens and first.completion_tokens <= 16 and first.prompt_tokens
    assert "paris" in first.text.lower()


async def test_embedded_accepts_a_gguf_path():
    path = resolve_model_path("smollm2-135m")
    target = create_target(f"embedded/{path}", {"n_ctx": 512})
    assert target.spec.options["n_ctx"] == 512
    reply = await target.generate(PROMPT, GenerationParams(max_tokens=4))
    await target.aclose()
    assert reply.completion_tokens and reply.completion_tokens <= 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, started and stopped here."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_model_path("smollm2-135m")),
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "2048"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("llama_cpp.server did not start within 120 s")
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)
    log.close()


async def test_openai_target_against_llama_cpp_server(llama_server):
    target = create_target("openai/smollm2", {"base_url": llama_server})
    reply = await target.generate(PROMPT, PARAMS)
    await target.aclose()
    assert "paris" in reply.text.lower()
    assert reply.prompt_tokens and reply.completion_tokens and reply.latency_ms > 0
