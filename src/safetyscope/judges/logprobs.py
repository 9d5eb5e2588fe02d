"""Token log-probabilities from OpenAI-compatible servers, for P(unsafe) — without changing the Target protocol.

The ``openai/...`` target does not ask for log-probabilities. When a model judge is built with
``logprobs=True`` and its target is OpenAI-compatible, this client makes the same chat-completions call
(the target's own request body: model, messages, temperature, max_tokens, seed, extra_body) with
``logprobs: true, top_logprobs: 5`` added, and returns the text with the per-token log-probabilities.
vLLM, llama.cpp's server and the OpenAI API answer in the same shape
(``choices[0].logprobs.content[i] = {token, logprob, top_logprobs: [{token, logprob}]}``). A server that
ignores the request returns no ``logprobs`` and the judge simply reports no probability.

The API key is read from the environment variable the target was configured with, at call time; it is
never stored on the judge or in its spec.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import orjson

from safetyscope.core.records import GenerationParams, Message
from safetyscope.judges.model import Completion, TokenLogprob
from safetyscope.targets.http import SessionHolder, bearer_headers, first_choice, post_json
from safetyscope.targets.openai_compat import OpenAICompatibleTarget

TOP_LOGPROBS = 5


class LogprobsClient:
    """``POST {base_url}/chat/completions`` with log-probabilities, for one OpenAI-compatible target."""

    def __init__(self, target: OpenAICompatibleTarget, *, api_key_env: str = "OPENAI_API_KEY",
                 top_logprobs: int = TOP_LOGPROBS) -> None:
        self._target = target
        self._url = str(target.spec.options["base_url"]).rstrip("/") + "/chat/completions"
        self._api_key_env = api_key_env
        self._top_logprobs = top_logprobs
        self._sessions = SessionHolder()

    def request_body(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        """The target's own request body plus the log-probability fields."""
        body = self._target.request_body(messages, params)
        body["logprobs"] = True
        body["top_logprobs"] = self._top_logprobs
        return body

    async def complete(self, messages: Sequence[Message], params: GenerationParams) -> Completion:
        """One call; HTTP and connection failures raise ``TargetError`` (retryable where backing off helps)."""
        headers = bearer_headers(os.environ.get(self._api_key_env))
        session = self._sessions.get()
        payload = await post_json(session, self._url, orjson.dumps(self.request_body(messages, params)), headers)
        return parse_logprobs_reply(payload, self._url)

    async def aclose(self) -> None:
        await self._sessions.aclose()


def parse_logprobs_reply(payload: bytes, url: str = "") -> Completion:
    """Text and per-token log-probabilities of a chat-completions reply (logprobs None when absent)."""
    _data, choice, text = first_choice(payload, url)
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice, dict) else None
    if not isinstance(content, list):
        return Completion(text=text, logprobs=None)
    tokens: list[TokenLogprob] = []
    for entry in content:
        try:
            top = tuple((str(alt["token"]), float(alt["logprob"])) for alt in entry.get("top_logprobs") or ())
            tokens.append(TokenLogprob(token=str(entry["token"]), logprob=float(entry["logprob"]), top=top))
        except (KeyError, TypeError, ValueError):
            return Completion(text=text, logprobs=None)
    return Completion(text=text, logprobs=tuple(tokens))
