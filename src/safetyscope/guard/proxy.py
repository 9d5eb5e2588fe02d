"""The guarded chat proxy: screen the input, call an OpenAI-compatible upstream, screen the output.

``stream: true`` is *buffered*: the upstream's whole SSE stream is read, its text screened, and then the
approved events are sent on unchanged (a refusal is sent as one SSE chunk). The client sees its first byte
only after the upstream finished and the output was judged, so streaming saves no time-to-first-token
through the guard; in exchange no unscreened token ever reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
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
log = logging.getLogger("safetyscope.guard")
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
    functions = [call.get("function", {}) if isinstance(call, dict) else {} for call in calls] \
        if isinstance(calls, list) else []
    functions.append(message.get("function_call"))  # the legacy single call
    return "\n".join(f"[tool call {function.get('name', '?')}: {function.get('arguments', '')}]"
                     for function in functions if isinstance(function, dict))


def message_text(message: dict[str, Any], where: str) -> str:
    """All a message's screenable text: content, ``reasoning_content``, ``refusal``, tool calls (and the legacy
    ``function_call``); :class:`UsageError` for a field that is not text."""
    parts = [_text(message.get(name), where if name == "content" else f"{where}.{name}")
             for name in ("content", "reasoning_content", "refusal")]
    return "\n".join(part for part in (*parts, _tool_calls_text(message)) if part)


@dataclass
class StreamedMessage:
    """One choice's message, reassembled from stream deltas: text fields joined, each tool call (by its
    ``index``) with its name and argument fragments joined, so a call is judged whole and once."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    tools: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    function: dict[str, list[str]] = field(default_factory=dict)

    def add(self, delta: dict[str, Any], where: str) -> None:
        for name in ("content", "reasoning_content", "refusal"):
            self.fields.setdefault(name, []).append(_text(delta.get(name), f"{where}.{name}"))
        for position, call in enumerate(delta.get("tool_calls") or []):
            if not isinstance(call, dict):
                raise UsageError(f"{where}.tool_calls[{position}]: must be an object")
            _join_function(self.tools.setdefault(int(call.get("index", position)), {}), call.get("function"))
        _join_function(self.function, delta.get("function_call"))

    def text(self) -> str:
        message: dict[str, Any] = {name: "".join(parts) for name, parts in self.fields.items()}
        message["tool_calls"] = [{"function": {name: "".join(parts) for name, parts in self.tools[index].items()}}
                                 for index in sorted(self.tools)]
        if self.function:
            message["function_call"] = {name: "".join(parts) for name, parts in self.function.items()}
        return message_text(message, "stream")


def _join_function(parts: dict[str, list[str]], function: Any) -> None:
    if isinstance(function, dict):
        for name in ("name", "arguments"):
            if isinstance(function.get(name), str):
                parts.setdefault(name, []).append(function[name])


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
        text = message_text(item, where)
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
            texts.append(message_text(choice.get("message") or {}, "choice"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, UsageError) as exc:
        raise UpstreamFailure(502, f"upstream reply is not a chat completion: {type(exc).__name__}: {exc}") from None
    if not texts:
        raise UpstreamFailure(502, "upstream reply has no choices")
    return texts


def stream_texts(payload: bytes) -> list[str]:
    """The assistant text of each choice, assembled from a buffered SSE chat completion stream."""
    choices: dict[int, StreamedMessage] = {}
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
                choices.setdefault(int(choice.get("index", 0)), StreamedMessage()).add(choice.get("delta") or {},
                                                                                       "delta")
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError, UsageError) as exc:
            raise UpstreamFailure(502, f"upstream stream event unreadable: {type(exc).__name__}: {exc}") from None
    if not done:
        raise UpstreamFailure(502, "upstream stream ended without [DONE]")
    try:
        return [choices[index].text() for index in sorted(choices)] or [""]
    except UsageError as exc:
        raise UpstreamFailure(502, f"upstream stream unreadable: {exc}") from None


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
    """The upstream OpenAI-compatible server: one aiohttp session, a timeout and retries per call. Connection
    errors and 429/5xx are retried; a timeout is not (the client already waited ``timeout_s``). Replies to the
    client never name the upstream's address (it is logged instead)."""

    def __init__(self, url: str, *, api_key: str | None, timeout_s: float, retries: int) -> None:
        self.url = url
        self._headers = bearer_headers(api_key)
        self._timeout_s = timeout_s
        # each try enforces timeout_s itself (as a final error); the policy's own timeout is only a backstop
        self._policy = RetryPolicy(timeout_s=2 * timeout_s + 1, max_retries=retries, base_delay_s=0.2,
                                   max_delay_s=2.0)
        self._sessions = SessionHolder()
        self._rng = random.Random()

    async def post(self, body: bytes) -> bytes:
        """The upstream's reply body; :class:`UpstreamFailure` (502, or 504 on timeout) when it cannot give one."""
        tries = 0
        last: Exception | None = None

        async def once() -> bytes:
            nonlocal tries, last
            tries += 1
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await post_json(self._sessions.get(), self.url, body, self._headers)
            except TimeoutError:
                last = TimeoutError(f"no reply within {self._timeout_s:g} s")
                raise TargetError(str(last), retryable=False) from None
            except Exception as exc:
                last = exc
                raise

        try:
            return await retry_call(once, self._policy, self._rng, "upstream")
        except Exception as exc:  # any failure of the client library is the upstream failing: 502, never 500
            log.warning("upstream %s failed after %d tries: %s: %s", self.url, tries, type(exc).__name__, exc)
            if isinstance(last, TimeoutError):
                raise UpstreamFailure(504, f"upstream timed out: {last}") from None
            # an HTTP error's status and body are the upstream's own answer; anything else may name its address
            detail = str(last) if isinstance(last, TargetError) and str(last).startswith("HTTP ") else \
                "upstream unavailable"
            raise UpstreamFailure(502, detail + (f" (after {tries} tries)" if tries > 1 else "")) from None

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
