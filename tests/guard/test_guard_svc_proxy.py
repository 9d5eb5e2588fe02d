"""The guarded ``/v1/chat/completions`` proxy against a scripted aiohttp upstream on 127.0.0.1 (streaming too)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from aiohttp import web

from openai_stub import completion, serve_on_loopback
from safetyscope.guard.proxy import UpstreamFailure, completion_texts, parse_chat, stream_texts

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx")
service = pytest.importorskip("safetyscope.guard.service", reason="the guard extra (fastapi) is not installed")
ServiceSettings = pytest.importorskip("safetyscope.guard.settings").ServiceSettings


class Upstream:
    """Replies ``Sure: <prompt>``, or a bomb recipe when the prompt mentions chemistry; SSE when asked."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.delay_s = 0.0
        self.raw: bytes | None = None
        self.sent: list[bytes] = []

    @staticmethod
    def reply(prompt: str) -> str:
        return "Step one of the bomb: mix..." if "chemistry" in prompt else f"Sure: {prompt}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.raw is not None:
            return web.Response(body=self.raw, content_type="application/json")
        if self.status != 200:
            return web.json_response({"error": {"message": "upstream broke"}}, status=self.status)
        text = self.reply(body["messages"][-1]["content"])
        if not body.get("stream"):
            payload = orjson.dumps(completion(text))
            self.sent.append(payload)
            return web.Response(body=payload, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = text.split(" ")
        events = [{"id": "c1", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ("" if i == 0 else " ") + word},
             "finish_reason": None}]} for i, word in enumerate(words)]
        events.append({"id": "c1", "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        stream = b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events) + b"data: [DONE]\n\n"
        self.sent.append(stream)
        for start in range(0, len(stream), 40):  # arrives in pieces, like a real stream
            await response.write(stream[start:start + 40])
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    fake = Upstream()
    runner, port = await serve_on_loopback("/v1/chat/completions", fake.handle)
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _serving(engine: Any, **settings: Any) -> AsyncIterator[Any]:
    """An httpx client on the app (in this event loop, beside the upstream), lifespan included."""
    app = service.create_app({engine.policy.name: engine}, settings=ServiceSettings(**settings))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guard", timeout=10) as client:
        yield client


def _chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": text}], **extra}


@pytest.fixture
def bomb_engine(make_engine, scripted, rules):
    return lambda **fields: make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb"))}, **fields)


async def test_allowed_answer_passes_unchanged_and_both_sides_are_stored(upstream, bomb_engine, store) -> None:
    fake, url = upstream
    async with _serving(bomb_engine(), upstream=url, upstream_retries=0) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("hello there"))
    assert reply.status_code == 200 and reply.content == fake.sent[0]  # byte for byte the upstream's answer
    ids = reply.headers["x-guard-decision-ids"].split(",")
    assert len(ids) == 2 and reply.headers["x-guard-decision-id"] == ids[1]
    assert reply.headers["x-guard-action"] == "allow"
    first, second = store.get_decision(ids[0]), store.get_decision(ids[1])
    assert (first.direction, first.action, second.direction, second.action) == ("input", "allow", "output", "allow")
    assert second.input_text.endswith("assistant: Sure: hello there") and "system: Be brief." in first.input_text
    assert fake.requests[0] == _chat("hello there")  # forwarded unchanged


async def test_the_policys_safety_config_leads_the_upstreams_system_prompt(upstream, bomb_engine, store) -> None:
    fake, url = upstream
    config = "Fictional violence is fine; real weapons are not."
    async with _serving(bomb_engine(safety_config=config), upstream=url, upstream_retries=0) as client:
        with_system = await client.post("/v1/chat/completions", json=_chat("a duel scene"))
        without = await client.post("/v1/chat/completions",
                                    json={"model": "m", "messages": [{"role": "user", "content": "a duel"}]})
    assert with_system.status_code == without.status_code == 200
    assert fake.requests[0]["messages"] == [{"role": "system", "content": f"{config}\n\nBe brief."},
                                            {"role": "user", "content": "a duel scene"}]
    assert fake.requests[1]["messages"] == [{"role": "system", "content": config},
                                            {"role": "user", "content": "a duel"}]
    screened = store.get_decision(with_system.headers["x-guard-decision-ids"].split(",")[0])
    assert config not in screened.input_text  # the guard screens the caller's own messages


async def test_unsafe_input_is_refused_without_calling_upstream(upstream, bomb_engine, store) -> None:
    fake, url = upstream
    async with _serving(bomb_engine(), upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("how to make a bomb"))
        streamed = await client.post("/v1/chat/completions", json=_chat("a bomb please", stream=True))
    assert reply.status_code == 200 and fake.requests == []
    body = reply.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "content_filter"
    guard = body["guard"]
    assert guard["action"] == "block" and guard["direction"] == "input" and guard["categories"] == ["vcr"]
    assert reply.headers["x-guard-decision-id"] == guard["decision_id"] and guard["decision_id"] in \
        body["choices"][0]["message"]["content"]
    assert store.get_decision(guard["decision_id"]).action == "block"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and json.loads(events[0])["guard"]["action"] == "block"


@pytest.mark.parametrize("stream", [False, True])
async def test_unsafe_output_is_refused(upstream, bomb_engine, store, stream: bool) -> None:
    fake, url = upstream
    async with _serving(bomb_engine(), upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("a chemistry question", stream=stream))
    assert reply.status_code == 200 and len(fake.requests) == 1
    assert "bomb" not in reply.text.replace('"bomb"', "")  # the recipe never reaches the client
    decision_id = reply.headers["x-guard-decision-id"]
    row = store.get_decision(decision_id)
    assert row.direction == "output" and row.action == "block" and "Step one of the bomb" in row.input_text
    if stream:
        assert reply.text.endswith("data: [DONE]\n\n") and f"decision {decision_id}" in reply.text
    else:
        assert reply.json()["guard"]["decision_id"] == decision_id


async def test_allowed_stream_is_passed_through_after_screening(upstream, bomb_engine, store) -> None:
    fake, url = upstream
    async with _serving(bomb_engine(store_text=False), upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("tell me a story", stream=True))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    assert reply.content == fake.sent[0]
    assert stream_texts(reply.content) == ["Sure: tell me a story"]
    for decision_id in reply.headers["x-guard-decision-ids"].split(","):  # hash-only storage covers the proxy
        row = store.get_decision(decision_id)
        assert row.input_text is None and len(row.input_hash) >= 32


async def test_upstream_down_is_502_and_the_input_decision_is_logged(bomb_engine, store) -> None:
    async with _serving(bomb_engine(), upstream=f"http://127.0.0.1:{_closed_port()}/v1",
                                     upstream_retries=1) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("hello"))
        health = await client.get("/healthz")
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["type"] == "upstream_error" and error["message"] == "upstream unavailable (after 2 tries)"
    assert "127.0.0.1" not in reply.text  # the upstream's address is logged, not told to the client
    row = store.get_decision(error["input_decision_id"])
    assert row is not None and row.direction == "input" and row.action == "allow"
    assert health.status_code == 200


async def test_upstream_errors_timeouts_and_garbage(upstream, bomb_engine, store) -> None:
    fake, url = upstream
    async with _serving(bomb_engine(), upstream=url, upstream_retries=1, upstream_timeout_s=0.3) as client:
        fake.status = 500
        failed = await client.post("/v1/chat/completions", json=_chat("hello"))
        fake.status, fake.delay_s = 200, 1.0
        late = await client.post("/v1/chat/completions", json=_chat("hello"))
        calls = len(fake.requests)  # 2 for the retried 500, 1 for the timeout
        fake.delay_s, fake.raw = 0.0, b'{"not": "a completion"}'
        garbage = await client.post("/v1/chat/completions", json=_chat("hello"))
        fake.raw = b"data: {\"choices\": []}\n\n"  # a stream cut off before [DONE]
        cut = await client.post("/v1/chat/completions", json=_chat("hello", stream=True))
    assert failed.status_code == 502 and "HTTP 500" in failed.json()["error"]["message"]
    assert late.status_code == 504 and calls == 3  # a timeout is not retried
    assert garbage.status_code == 502 and "not a chat completion" in garbage.json()["error"]["message"]
    assert cut.status_code == 502 and "[DONE]" in cut.json()["error"]["message"]
    for reply in (failed, late, garbage, cut):
        assert store.get_decision(reply.json()["error"]["input_decision_id"]) is not None


async def test_a_timed_out_expert_is_skipped_through_the_proxy(upstream, make_engine, scripted, rules, store) -> None:
    _, url = upstream
    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb")),
                          "slow": scripted("slow", rules["always"]("unsafe"), delay_s=5)}, timeout_s=0.3)
    async with _serving(engine, upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("hello"))
    assert reply.status_code == 200 and reply.headers["x-guard-action"] == "allow"
    for decision_id in reply.headers["x-guard-decision-ids"].split(","):
        decision = store.get_decision(decision_id).decision
        assert decision["skipped"] == ["slow"] and decision["degraded"] and decision["weights"] == {"bomb": 1.0}


async def test_bad_proxy_requests_get_4xx_and_the_server_stays_up(upstream, bomb_engine) -> None:
    _, url = upstream
    async with _serving(bomb_engine(), upstream=url, max_messages=4, max_content_chars=100,
                        max_body_bytes=4096) as client, _serving(bomb_engine()) as bare:
        post = client.post
        assert (await post("/v1/chat/completions", content=b"{oops",
                           headers={"content-type": "application/json"})).status_code == 422
        assert (await post("/v1/chat/completions", json={"model": "m"})).status_code == 422
        assert (await post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "x"}]})
                ).status_code == 422
        image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}
        assert (await post("/v1/chat/completions", json={"messages": [image]})).status_code == 422
        many = {"messages": [{"role": "user", "content": "hi"}] * 5}
        assert (await post("/v1/chat/completions", json=many)).status_code == 413
        assert (await post("/v1/chat/completions", json=_chat("x" * 101))).status_code == 413
        assert (await post("/v1/chat/completions", json=_chat("x" * 5000))).status_code == 413  # body limit
        assert (await post("/v1/guard", json={"messages": [{"role": "user", "content": "x"}] * 5})).status_code == 413
        assert (await post("/v1/moderations", json={"input": ["y" * 101]})).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the limit, then 413
            for _ in range(10):
                yield b" " * 1000

        assert (await post("/v1/guard", content=chunks())).status_code == 413

        async def small() -> AsyncIterator[bytes]:  # a chunked body under the limit is replayed to the app
            yield b'{"messages": [{"role": "user", '
            yield b'"content": "a bomb"}]}'

        assert (await post("/v1/guard", content=small(), headers={"content-type": "application/json"})
                ).json()["action"] == "block"
        assert (await bare.post("/v1/chat/completions", json=_chat("hello"))).status_code == 503
        assert (await post("/v1/chat/completions", json=_chat("fine"))).status_code == 200
        assert (await client.get("/healthz")).json()["status"] == "ok"


def test_parse_chat_reads_parts_tools_and_names_bad_fields() -> None:
    call = parse_chat({"model": "m", "stream": True, "messages": [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "content": "result"}]}, max_messages=10, max_content_chars=100)
    assert call.stream and [m.role for m in call.messages] == ["system", "user", "assistant", "user"]
    assert call.messages[1].content == "a\nb" and call.messages[2].content == "[tool call f: {}]"
    with pytest.raises(Exception, match=r"messages\[0\]\.content\[0\]"):
        parse_chat({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, max_messages=10,
                   max_content_chars=100)
    with pytest.raises(Exception, match="stream"):
        parse_chat({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, max_messages=10,
                   max_content_chars=100)
    with pytest.raises(UpstreamFailure, match="stream error"):
        stream_texts(b'data: {"error": {"message": "boom"}}\n\ndata: [DONE]\n\n')


async def test_review_refuses_too(upstream, make_engine, scripted, rules, store) -> None:
    fake, url = upstream
    experts = {"yes": scripted("yes", rules["always"]("unsafe")), "no": scripted("no", rules["always"]("safe"))}
    engine = make_engine(experts, conformal={"alpha": 0.1, "q": 1.0, "n": 5})
    async with _serving(engine, upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("borderline"))
    assert reply.json()["guard"]["action"] == "review" and reply.headers["x-guard-action"] == "review"
    assert fake.requests == [] and store.list_decisions(action="review", unlabelled=True)[0].decision_id == \
        reply.headers["x-guard-decision-id"]


def _sse(*deltas: dict[str, Any], index: int = 0) -> bytes:
    events = [{"choices": [{"index": index, "delta": delta}]} for delta in deltas]
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events) + b"data: [DONE]\n\n"


def test_streamed_tool_calls_are_reassembled_and_every_text_field_is_screened() -> None:
    fragments = _sse({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "run", "arguments": '{"cmd": "b'}}]},
                     {"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "log", "arguments": "{}"}}]},
                     {"tool_calls": [{"index": 0, "function": {"arguments": 'omb"}'}}]},
                     {"reasoning_content": "think"}, {"reasoning_content": "ing"}, {"refusal": "no way"},
                     {"function_call": {"name": "old", "arguments": '{"x"'}},
                     {"function_call": {"arguments": ": 1}"}})
    text = stream_texts(fragments)[0]
    assert '[tool call run: {"cmd": "bomb"}]' in text and "[tool call log: {}]" in text  # one call, judged whole
    assert "thinking" in text and "no way" in text and '[tool call old: {"x": 1}]' in text
    message = {"content": None, "reasoning_content": "secret plan", "refusal": "cannot",
               "function_call": {"name": "f", "arguments": "1"}}
    reply = {"choices": [{"index": 0, "message": message}]}
    assert completion_texts(orjson.dumps(reply)) == ["secret plan\ncannot\n[tool call f: 1]"]
    with pytest.raises(UpstreamFailure, match="reasoning_content"):
        stream_texts(_sse({"reasoning_content": 5}))


async def test_streamed_tool_call_split_across_chunks_is_refused(upstream, bomb_engine) -> None:
    fake, url = upstream
    split = _sse({"role": "assistant", "content": None},
                 {"tool_calls": [{"index": 0, "function": {"name": "say", "arguments": '{"t": "pipe b'}}]},
                 {"tool_calls": [{"index": 0, "function": {"arguments": 'omb"}'}}]})
    fake.raw = split
    async with _serving(bomb_engine(), upstream=url) as client:
        reply = await client.post("/v1/chat/completions", json=_chat("tell me", stream=True))
    assert reply.status_code == 200 and b"content_filter" in reply.content


async def test_any_client_library_failure_is_a_502_without_the_address(monkeypatch) -> None:
    from safetyscope.guard import proxy

    async def broken(*_args: Any) -> bytes:
        raise RuntimeError("Session is closed (http://10.0.0.7:8000)")

    monkeypatch.setattr(proxy, "post_json", broken)
    upstream = proxy.Upstream("http://10.0.0.7:8000/v1/chat/completions", api_key=None, timeout_s=1, retries=2)
    with pytest.raises(UpstreamFailure) as failure:
        await upstream.post(b"{}")
    assert failure.value.status == 502 and str(failure.value) == "upstream unavailable"
    await upstream.aclose()


async def test_chat_with_n_choices_pays_one_token_per_choice(upstream, bomb_engine, store) -> None:
    from safetyscope.guard.auth import create_key

    _, url = upstream
    engine = bomb_engine()
    key = create_key(store, name="n", policies=(engine.policy.name,), rate_per_s=0.01, burst=3)
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    async with _serving(engine, upstream=url) as client:
        three = await client.post("/v1/chat/completions", json=_chat("hello", n=3), headers=headers)
        after = await client.post("/v1/chat/completions", json=_chat("hello"), headers=headers)
    assert three.status_code == 200 and after.status_code == 429  # 1 + 2 extra choices spent the burst of 3
