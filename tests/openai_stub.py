"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for unit tests of the HTTP target and runner."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A behaviour gets the request body and the number of earlier calls with the same last prompt; it returns
# (status, json body, headers).
Behaviour = Callable[[dict[str, Any], int], tuple[int, dict[str, Any], dict[str, str]]]


def completion(text: str, *, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "model": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


def refuse_unsafe(body: dict[str, Any], _count: int) -> tuple[int, dict[str, Any], dict[str, str]]:
    prompt = body["messages"][-1]["content"]
    text = "I'm sorry, but I can't help with that." if "unsafe" in prompt else f"Sure! Here is the answer: {prompt}"
    return 200, completion(text), {}


async def serve_on_loopback(path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                            ) -> tuple[web.AppRunner, int]:
    """Serve ``POST path`` on 127.0.0.1 at a free port; returns the runner (to clean up) and the port."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@dataclass
class StubServer:
    behaviour: Behaviour = refuse_unsafe
    latency_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    calls_per_prompt: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers_seen.append(dict(request.headers))
        prompt = body["messages"][-1]["content"]
        count = self.calls_per_prompt[prompt]
        self.calls_per_prompt[prompt] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        status, payload, headers = self.behaviour(body, count)
        return web.json_response(payload, status=status, headers=headers)

    async def start(self) -> StubServer:
        self._runner, self.port = await serve_on_loopback("/v1/chat/completions", self._handle)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
