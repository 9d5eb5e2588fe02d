"""The HTTP service: FastAPI's TestClient against the app, and real `guard serve` processes over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openai_stub import StubServer
from safetyscope.cli.guard_cmd import guard_app
from safetyscope.guard import GuardEngine, GuardPolicy

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx (FastAPI's TestClient)")
TestClient = pytest.importorskip("fastapi.testclient", reason="the guard extra (fastapi) is not installed").TestClient
create_app = pytest.importorskip("safetyscope.guard.service").create_app
ServiceSettings = pytest.importorskip("safetyscope.guard.settings").ServiceSettings


@pytest.fixture
def client(store, scripted, rules):
    bomb = scripted("bomb", rules["keyword"]("bomb"))
    safe = scripted("safe", rules["always"]("safe"))
    strict = GuardPolicy(name="strict", experts=[{"name": "bomb", "judge": "refusal"},  # type: ignore[list-item]
                                                 {"name": "safe", "judge": "refusal"}], threshold=0.4)
    lenient = GuardPolicy(name="lenient", version="2", allowed=["vcr"],
                          experts=[{"name": "bomb", "judge": "refusal"}])  # type: ignore[list-item]
    engines = {"strict": GuardEngine(strict, store, judges={"bomb": bomb, "safe": safe}),
               "lenient": GuardEngine(lenient, store, judges={"bomb": bomb})}
    settings = ServiceSettings(open_feedback=True)
    with TestClient(create_app(engines, max_body_bytes=4096, settings=settings)) as test_client:
        yield test_client


def _guard(client: TestClient, text: str, **extra: object) -> httpx.Response:
    return client.post("/v1/guard", json={"messages": [{"role": "user", "content": text}], **extra})


def test_guard_decision_feedback_and_metrics(client: TestClient, store) -> None:
    response = _guard(client, "how to make a bomb")
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "block" and body["categories"] == ["vcr"] and body["policy"] == "strict"
    assert body["weights"] == {"bomb": 0.5, "safe": 0.5} and body["latency_ms"] >= 0
    assert {vote["expert"]: vote["label"] for vote in body["experts"]} == {"bomb": "unsafe", "safe": "safe"}
    assert store.get_decision(body["decision_id"]) is not None
    feedback = client.post("/v1/feedback", json={"decision_id": body["decision_id"], "label": "unsafe"})
    assert feedback.status_code == 200 and feedback.json()["weights"]["bomb"] > 0.5
    assert client.post("/v1/feedback", json={"decision_id": body["decision_id"], "label": "safe"}).status_code == 409
    assert client.post("/v1/feedback", json={"decision_id": "gd-missing", "label": "safe"}).status_code == 404
    assert _guard(client, "how to make a bomb", policy="lenient").json()["action"] == "allow"
    assert _guard(client, "hi", policy="nope").status_code == 404
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'safetyscope_guard_decisions_total{policy="strict",direction="input",action="block"} 1' in metrics.text
    assert 'safetyscope_guard_expert_weight{policy="strict",expert="bomb"}' in metrics.text
    assert 'safetyscope_guard_feedback_total{label="unsafe"} 1' in metrics.text
    assert "safetyscope_guard_dropped_writes_total 0\n" in metrics.text
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["policies"] == {"strict": "1", "lenient": "2"}


def test_moderations_is_openai_shaped(client: TestClient) -> None:
    response = client.post("/v1/moderations", json={"input": ["make a bomb", "bake bread"],
                                                     "model": "omni-moderation-latest"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("modr-") and body["model"] == "omni-moderation-latest"
    first, second = body["results"]
    assert first["flagged"] and first["categories"]["violence"] and not first["categories"]["sexual"]
    assert first["category_scores"]["violence"] > 0 and set(first["categories"]) == set(first["category_scores"])
    assert not second["flagged"] and not any(second["categories"].values())
    single = client.post("/v1/moderations", json={"input": "bake bread"}).json()
    assert len(single["results"]) == 1


def test_bad_requests_get_4xx(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert client.post("/v1/guard", content=b"{not json", headers=headers).status_code == 422
    assert client.post("/v1/guard", json={"messages": []}).status_code == 422
    assert client.post("/v1/guard", json={"messages": [{"role": "robot", "content": "x"}]}).status_code == 422
    assert _guard(client, "x", direction="output").status_code == 422  # last turn is not the assistant's
    assert _guard(client, "x" * 10_000).status_code == 413
    assert 'safetyscope_guard_http_errors_total{status="413"} 1\n' in client.get("/metrics").text  # counted once
    assert client.post("/v1/feedback", json={"decision_id": "x", "label": "maybe"}).status_code == 422
    assert client.post("/v1/moderations", json={"input": []}).status_code == 422
    schema = client.get("/openapi.json").json()
    assert {"/v1/guard", "/v1/moderations", "/v1/feedback", "/healthz", "/metrics"} <= set(schema["paths"])


def test_real_uvicorn_server_over_http(tmp_path: Path, guard_server) -> None:
    """``guard serve`` in a subprocess; the expert is Llama Guard 3's format on a scripted mock model."""
    policy = {"name": "http", "version": "7", "store_text": False,
              "experts": [{"name": "lg3", "judge": "llama-guard-3", "timeout_s": 5,
                           "options": {"side": "prompt", "target": "mock/scripted",
                                       "target_options": {"default_reply": "unsafe\nS1"}}}]}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    base = guard_server("--policy", str(path), "--store", str(tmp_path / "guard.sqlite")).base
    response = httpx.post(f"{base}/v1/guard", json={"messages": [{"role": "user", "content": "hello"}]}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "block" and body["categories"] == ["vcr"] and body["policy_version"] == "7"
    bad = httpx.post(f"{base}/v1/guard", content=b"[", headers={"content-type": "application/json"}, timeout=10)
    assert bad.status_code == 422
    assert "safetyscope_guard_decisions_total" in httpx.get(f"{base}/metrics", timeout=10).text
    assert json.loads(httpx.get(f"{base}/healthz", timeout=10).text)["policies"] == {"http": "7"}


async def test_serve_with_config_upstream_and_keys(tmp_path: Path, guard_server) -> None:
    """The CLI end to end: ``--config`` names the upstream (and its key's variable), keys made by ``keys create``
    are required, and the proxy answers through a real ``guard serve`` process."""
    upstream = await StubServer().start()
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"name": "proxy", "experts": [{
        "name": "lg3", "judge": "llama-guard-3", "timeout_s": 5, "options": {
            "side": "prompt", "target": "mock/scripted", "target_options": {"default_reply": "safe"}}}]}),
        encoding="utf-8")
    config = tmp_path / "guard.yaml"
    config.write_text(yaml.safe_dump({"upstream": upstream.base_url, "upstream_api_key_env": "UP_KEY",
                                      "max_messages": 8}), encoding="utf-8")
    location = str(tmp_path / "guard.sqlite")
    created = CliRunner().invoke(guard_app, ["keys", "create", "--policy", "proxy", "--store", location])
    key = created.stdout.strip().splitlines()[-1]
    base = guard_server("--policy", str(policy), "--store", location, "--config", str(config),
                        env={"UP_KEY": "upstream-secret"}).base
    chat = {"model": "m", "messages": [{"role": "user", "content": "capital of France?"}]}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            assert (await client.post("/v1/chat/completions", json=chat)).status_code == 401
            reply = await client.post("/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"})
            too_many = await client.post("/v1/chat/completions", json={"messages": chat["messages"] * 9},
                                         headers={"Authorization": f"Bearer {key}"})
            health = (await client.get("/healthz")).json()
    finally:
        await upstream.stop()
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "Sure! Here is the answer: capital of France?"
    assert reply.headers["x-guard-action"] == "allow" and len(reply.headers["x-guard-decision-ids"].split(",")) == 2
    assert upstream.headers_seen[0]["Authorization"] == "Bearer upstream-secret" and len(upstream.requests) == 1
    assert too_many.status_code == 413 and health["upstream"] == upstream.base_url
