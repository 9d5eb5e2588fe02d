"""``openai/<model>``: an async client for the OpenAI chat-completions API and compatible servers
(vLLM, Ollama, llama.cpp's server, OpenAI itself)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import orjson

from safetyscope.core.errors import PrerequisiteError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.targets.base import BaseTarget, target_providers, with_system_prompt
from safetyscope.targets.http import (
    RETRYABLE_STATUSES,
    SessionHolder,
    bearer_headers,
    first_choice,
    parse_retry_after,
    post_json,
)

__all__ = ["OPENAI_BASE_URL", "RETRYABLE_STATUSES", "OpenAICompatibleTarget", "create_openai", "parse_retry_after"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatibleTarget(BaseTarget):
    """Calls ``POST {base_url}/chat/completions``. The API key is read from an environment variable at
    construction and never stored or logged."""

    def __init__(self, *, model: str, base_url: str, api_key: str | None, extra_body: dict[str, Any]) -> None:
        super().__init__(ComponentSpec(kind="target", name=f"openai/{model}",
                                       options={"base_url": base_url.rstrip("/"), "extra_body": extra_body}))
        self._model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = bearer_headers(api_key)
        self._extra_body = extra_body
        self._sessions = SessionHolder(limit=0, ttl_dns_cache=300)

    def request_body(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        """The JSON body of one chat-completions call."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [m.model_dump() for m in with_system_prompt(messages, params)],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        body.update(self._extra_body)
        return body

    async def generate(self, messages: Sequence[Message], params: GenerationParams) -> Generation:
        session = self._sessions.get()
        started = time.perf_counter()
        payload = await post_json(session, self._url, orjson.dumps(self.request_body(messages, params)), self._headers)
        latency_ms = (time.perf_counter() - started) * 1000
        return _parse_completion(payload, latency_ms, self._url)

    async def aclose(self) -> None:
        await self._sessions.aclose()


def _parse_completion(payload: bytes, latency_ms: float, url: str) -> Generation:
    data, choice, text = first_choice(payload, url)
    usage = data.get("usage") or {}
    return Generation(text=text, finish_reason=choice.get("finish_reason"), latency_ms=latency_ms,
                      prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))


@target_providers.register("openai", description="OpenAI chat-completions API or any compatible server (--base-url).")
def create_openai(*, name: str, base_url: str = OPENAI_BASE_URL, api_key_env: str = "OPENAI_API_KEY",
                  extra_body: dict[str, Any] | None = None) -> OpenAICompatibleTarget:
    """The API key comes from the environment variable ``api_key_env``; it is required for api.openai.com
    and optional for local servers."""
    api_key = os.environ.get(api_key_env)
    if not api_key and base_url.rstrip("/") == OPENAI_BASE_URL:
        raise PrerequisiteError(f"openai/{name} needs an API key: set the environment variable {api_key_env}, "
                                "or pass --base-url for a local OpenAI-compatible server")
    return OpenAICompatibleTarget(model=name, base_url=base_url, api_key=api_key, extra_body=dict(extra_body or {}))
