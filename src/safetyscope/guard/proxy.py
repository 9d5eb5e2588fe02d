"""The guarded chat proxy: screen the input, call an OpenAI-compatible upstream, screen the output.

``stream: true`` is *buffered*: the upstream's whole SSE stream is read, its text screened, and then the
approved events are sent on unchanged (a refusal is sent as one SSE chunk). The client sees its first byte
only after the upstream finished and the output was judged, so streaming saves no time-to-first-token
through the guard; in exchange no unscreened token ever reaches the client.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from safetyscope.core.errors import TargetError, UsageError
from safetyscope.core.records import Message
from safetyscope.guard.engine import GuardDecision
from safetyscope.guard.limits import check_texts
from safetyscope.guard.policy import Direction, with_safety_config
from safetyscope.runner.retry import RetryPolicy, retry_call
from safetyscope.targets.http import SessionHolder, bearer_headers, post_json

Screen = Callable[[list[Message], Direction], Awaitable[GuardDecision]]
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "user"}


class UpstreamFailure(Exception):
    """The upstream could not answer: ``status`` 502 (down, error, unreadable) or 504 (timed out)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatCall:
    """What the guard reads from a chat completions request."""

    messages: list[Message]
    stream: bool
    model: str


@dataclass
class ProxyOutcome:
    """The reply to send: status, body, media type, headers and the decisions made."""

    status: int
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)
    decisions: list[GuardDecision] = field(default_factory=list)


def _text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise UsageError(f"{where}.content[{index}]: only text parts can be screened")
            parts.append(part["text"])
        return "\n".join(parts)
    raise UsageError(f"{where}.content: must be a string or a list of text parts")


def _tool_calls_text(message: dict[str, Any]) -> str:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        return ""
    lines = []
    for call in calls:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        if isinstance(function, dict):
            lines.append(f"[tool call {function.get('name', '?')}: {function.get('arguments', '')}]")
    return "\n".join(lines)


def parse_chat(body: Any, *, max_messages: int, max_content_chars: int) -> ChatCall:
    """Validate a chat completions body; :class:`UsageError` names the bad field. Tool results are screened
    as user turns, developer turns as system turns, and tool-call arguments as assistant text."""
    if not isinstance(body, dict):
        raise UsageError("body: must be a JSON object")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise UsageError("messages: must be a non-empty list")
    if len(raw) > max_messages:  # before parsing anything
        raise UsageError(f"messages: {len(raw)} items, more than the limit of {max_messages}")
    messages: list[Message] = []
    for index, item in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise UsageError(f"{where}.role: must be one of {', '.join(ROLES)}")
        text = "\n".join(part for part in (_text(item.get("content"), where), _tool_calls_text(item)) if part)
        messages.append(Message(role=ROLES[item["role"]], content=text))
    check_texts([message.content for message in messages], max_messages=max_messages,
                max_content_chars=max_content_chars)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise UsageError("stream: must be true or false")
    model = body.get("model", "")
    return ChatCall(messages=messages, stream=stream, model=model if isinstance(model, str) else "")


def configured_body(body: dict[str, Any], safety_config: str | None) -> bytes | None:
    """The request body with the policy's CoSA-style safety config at the head of the system prompt (a leading
    system message keeps its own text after the config), or None when the policy has none: the body is then
    forwarded byte for byte. The guard still screens the caller's own messages."""
    if not safety_config:
        return None
    messages = list(body["messages"])
    first = messages[0]
    if isinstance(first, dict) and first.get("role") == "system" and isinstance(first.get("content"), str):
        messages[0] = {**first, "content": with_safety_config(safety_config, first["content"])}
    else:
        messages.insert(0, {"role": "system", "content": safety_config})
    return orjson.dumps({**body, "messages": messages})


def completion_texts(payload: bytes) -> list[str]:
    """The assistant text of each choice of a chat completion (tool-call arguments included)."""
    try:
        data = orjson.loads(payload)
        choices = sorted(data["choices"], key=lambda choice: int(choice.get("index", 0)))
        texts = []
        for choice in choices:
            message = choice.get("message") or {}
            texts.append("\n".join(p for p in (_text(message.get("content"), "choice"), _tool_calls_text(message))
                                   if p))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, UsageError) as exc:
        raise UpstreamFailure(502, f"upstream reply is not a chat completion: {type(exc).__name__}: {exc}") from None
    if not texts:
        raise UpstreamFailure(502, "upstream reply has no choices")
    return texts


def stream_texts(payload: bytes) -> list[str]:
    """The assistant text of each choice, assembled from a buffered SSE chat completion stream."""
    pieces: dict[int, list[str]] = {}
    done = False
    for line in payload.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            event = orjson.loads(data)
            if "error" in event:
                raise UpstreamFailure(502, f"upstream stream error: {str(event['error'])[:300]}")
            for choice in event.get("choices", []):
                delta = choice.get("delta") or {}
                text = "\n".join(p for p in (_text(delta.get("content"), "delta"), _tool_calls_text(delta)) if p)
                pieces.setdefault(int(choice.get("index", 0)), []).append(text)
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError, UsageError) as exc:
            raise UpstreamFailure(502, f"upstream stream event unreadable: {type(exc).__name__}: {exc}") from None
    if not done:
        raise UpstreamFailure(502, "upstream stream ended without [DONE]")
    return ["".join(pieces[index]) for index in sorted(pieces)] or [""]


def guard_info(decision: GuardDecision) -> dict[str, Any]:
    """The decision summary carried in a refusal's ``guard`` field."""
    return {"decision_id": decision.decision_id, "action": decision.action, "direction": decision.direction,
            "policy": decision.policy, "policy_version": decision.policy_version, "reason": decision.reason,
            "categories": list(decision.categories), "custom_categories": list(decision.custom_categories)}


def refusal(decision: GuardDecision, model: str, *, stream: bool) -> bytes:
    """An OpenAI-shaped refusal (``finish_reason: content_filter``) carrying the decision in ``guard``."""
    text = (f"I can't help with that: the {decision.direction} was stopped by the guard policy "
            f"'{decision.policy}' (decision {decision.decision_id}, action {decision.action}).")
    base = {"id": f"chatcmpl-guard-{secrets.token_hex(8)}", "created": int(time.time()), "model": model,
            "guard": guard_info(decision)}
    if not stream:
        return orjson.dumps({**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "content_filter"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})
    chunk = {**base, "object": "chat.completion.chunk", "choices": [{
        "index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": "content_filter"}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"


def decision_headers(decisions: Sequence[GuardDecision]) -> dict[str, str]:
    """``X-Guard-Decision-Id`` (the deciding, i.e. last, decision), its action, and every id in order."""
    last = decisions[-1]
    return {"X-Guard-Decision-Id": last.decision_id, "X-Guard-Action": last.action,
            "X-Guard-Direction": last.direction,
            "X-Guard-Decision-Ids": ",".join(decision.decision_id for decision in decisions)}


class Upstream:
    """The upstream OpenAI-compatible server: one aiohttp session, a timeout and retries per call."""

    def __init__(self, url: str, *, api_key: str | None, timeout_s: float, retries: int) -> None:
        self.url = url
        self._headers = bearer_headers(api_key)
        self._policy = RetryPolicy(timeout_s=timeout_s, max_retries=retries, base_delay_s=0.2, max_delay_s=2.0)
        self._sessions = SessionHolder()
        self._rng = random.Random()

    async def post(self, body: bytes) -> bytes:
        """The upstream's reply body; :class:`UpstreamFailure` when it cannot give one."""
        try:
            return await retry_call(lambda: post_json(self._sessions.get(), self.url, body, self._headers),
                                    self._policy, self._rng, f"upstream {self.url}")
        except TargetError as exc:
            status = 504 if "no reply within" in str(exc) else 502
            raise UpstreamFailure(status, f"upstream failed: {exc}") from None

    async def aclose(self) -> None:
        await self._sessions.aclose()


async def guarded_chat(call: ChatCall, raw_body: bytes, upstream: Upstream, screen: Screen) -> ProxyOutcome:
    """Screen the input; if allowed, call the upstream and screen each choice's text; return the upstream's
    reply unchanged when every decision is ``allow``, else a refusal. Only ``allow`` passes: ``block`` and
    ``review`` both refuse. An upstream failure is a 502/504 JSON error naming the (stored) input decision."""
    media = "text/event-stream" if call.stream else "application/json"
    first = await screen(call.messages, "input")
    if first.action != "allow":
        return ProxyOutcome(200, refusal(first, call.model, stream=call.stream), media,
                            decision_headers([first]), [first])
    try:
        payload = await upstream.post(raw_body)
        texts = stream_texts(payload) if call.stream else completion_texts(payload)
    except UpstreamFailure as exc:
        error = {"error": {"message": str(exc), "type": "upstream_error", "code": exc.status,
                           "input_decision_id": first.decision_id}}
        return ProxyOutcome(exc.status, orjson.dumps(error), "application/json", decision_headers([first]), [first])
    decisions = [first]
    for text in texts:
        decisions.append(await screen([*call.messages, Message(role="assistant", content=text)], "output"))
        if decisions[-1].action != "allow":
            return ProxyOutcome(200, refusal(decisions[-1], call.model, stream=call.stream), media,
                                decision_headers(decisions), decisions)
    return ProxyOutcome(200, payload, media, decision_headers(decisions), decisions)
