"""Stubs shared by the model-backed judge tests (tests/judges): chat replies with log-probabilities and a
scripted ``/v1/moderations`` server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from openai_stub import serve_on_loopback


def chat_reply(text: str, tokens: list[tuple[str, float, list[tuple[str, float]]]] | None = None) -> dict[str, Any]:
    """A chat-completions body, with ``choices[0].logprobs.content`` when ``tokens`` is given."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if tokens is not None:
        choice["logprobs"] = {"content": [
            {"token": token, "logprob": logprob, "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}
            for token, logprob, top in tokens]}
    return {"id": "x", "object": "chat.completion", "model": "stub", "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}}


@dataclass
class ModerationStub:
    """``POST /v1/moderations`` answering from ``behaviour(body, call_number)``."""

    behaviour: Callable[[dict[str, Any], int], tuple[int, dict[str, Any], dict[str, str]]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers_seen.append(dict(request.headers))
        status, payload, headers = self.behaviour(body, len(self.requests) - 1)
        return web.json_response(payload, status=status, headers=headers)

    async def start(self) -> ModerationStub:
        self._runner, self.port = await serve_on_loopback("/v1/moderations", self._handle)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def moderation_result(flagged: bool, categories: dict[str, bool],
                      scores: dict[str, float]) -> tuple[int, dict[str, Any], dict[str, str]]:
    return 200, {"id": "modr-1", "model": "omni-moderation-latest",
                 "results": [{"flagged": flagged, "categories": categories, "category_scores": scores}]}, {}
