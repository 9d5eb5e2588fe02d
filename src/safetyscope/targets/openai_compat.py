"""``openai/<model>``: an async client for the OpenAI chat-completions API and compatible servers
(vLLM, Ollama, llama.cpp's server, OpenAI itself)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from safetyscope.core.errors import PrerequisiteError, TargetError
from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, Message
from safetyscope.targets.base import BaseTarget, target_providers, with_system_prompt

OPENAI_BASE_URL = "https://api.openai.com/v1"
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAICompatibleTarget(BaseTarget):
    """Calls ``POST {base_url}/chat/completions``. The API key is read from an environment variable at
    construction and never stored or logged."""

    def __init__(self, *, model: str, base_url: str, api_key: str | None, extra_body: dict[str, Any]) -> None:
        super().__init__(ComponentSpec(kind="target", name=f"openai/{model}",
                                       options={"base_url": base_url.rstrip("/"), "extra_body": extra_body}))
        self._model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._extra_body = extra_body
        self._session: aiohttp.ClientSession | None = None

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
        session = self._session_for_loop()
        started = time.perf_counter()
        try:
            async with session.post(self._url, data=orjson.dumps(self.request_body(messages, params)),
                                    headers=self._headers) as reply:
                payload = await reply.read()
                if reply.status != 200:
                    raise _http_error(reply.status, payload, reply.headers.get("Retry-After"))
        except aiohttp.ClientError as exc:
            raise TargetError(f"{self._url}: {type(exc).__name__}: {exc}", retryable=True) from exc
        latency_ms = (time.perf_counter() - started) * 1000
        return _parse_completion(payload, latency_ms, self._url)

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _http_error(status: int, payload: bytes, retry_after: str | None) -> TargetError:
    detail = payload[:300].decode("utf-8", "replace").strip()
    return TargetError(f"HTTP {status}: {detail}", retryable=status in RETRYABLE_STATUSES,
                       retry_after_s=parse_retry_after(retry_after))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _parse_completion(payload: bytes, latency_ms: float, url: str) -> Generation:
    try:
        data = orjson.loads(payload)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TargetError(f"{url}: malformed chat-completions reply ({exc}): {payload[:200]!r}") from exc
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
