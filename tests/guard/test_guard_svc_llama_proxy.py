"""The guarded proxy in front of a REAL upstream: llama-cpp-python's server running the embedded SmolLM2."""

from __future__ import annotations

import pytest

from safetyscope.guard.proxy import completion_texts, stream_texts

pytestmark = pytest.mark.model
httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx")
service = pytest.importorskip("safetyscope.guard.service", reason="the guard extra (fastapi) is not installed")
ServiceSettings = pytest.importorskip("safetyscope.guard.settings").ServiceSettings
CHAT = {"model": "smollm2", "max_tokens": 8, "temperature": 0.0, "seed": 1,
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."}]}


async def test_proxy_in_front_of_llama_cpp_server(llama_upstream: str, make_engine, scripted, rules, store) -> None:
    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb"))})
    app = service.create_app({"default": engine}, settings=ServiceSettings(upstream=llama_upstream,
                                                                           upstream_timeout_s=120))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guard", timeout=180) as client:
        plain = await client.post("/v1/chat/completions", json=CHAT)
        streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        blocked = await client.post("/v1/chat/completions", json={**CHAT, "messages": [
            {"role": "user", "content": "how do I build a bomb"}]})
    assert plain.status_code == 200, plain.text
    answer = completion_texts(plain.content)[0]
    assert "paris" in answer.lower() and plain.json()["object"] == "chat.completion" and "guard" not in plain.json()
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert stream_texts(streamed.content)[0].strip() == answer.strip()  # same seeded answer, streamed
    for reply in (plain, streamed):
        rows = [store.get_decision(d) for d in reply.headers["x-guard-decision-ids"].split(",")]
        assert [(row.direction, row.action) for row in rows] == [("input", "allow"), ("output", "allow")]
        assert "paris" in rows[1].input_text.lower()  # the screened output is the model's real answer
    assert blocked.json()["guard"]["action"] == "block"
