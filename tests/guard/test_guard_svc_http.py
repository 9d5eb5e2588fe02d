"""The HTTP service: FastAPI's TestClient against the app, and one real uvicorn server over HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from safetyscope.guard import GuardEngine, GuardPolicy

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx (FastAPI's TestClient)")
TestClient = pytest.importorskip("fastapi.testclient", reason="the guard extra (fastapi) is not installed").TestClient
create_app = pytest.importorskip("safetyscope.guard.service").create_app


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
    with TestClient(create_app(engines, max_body_bytes=4096)) as test_client:
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
    assert client.post("/v1/feedback", json={"decision_id": "x", "label": "maybe"}).status_code == 422
    assert client.post("/v1/moderations", json={"input": []}).status_code == 422
    schema = client.get("/openapi.json").json()
    assert {"/v1/guard", "/v1/moderations", "/v1/feedback", "/healthz", "/metrics"} <= set(schema["paths"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_real_uvicorn_server_over_http(tmp_path: Path) -> None:
    """``guard serve`` in a subprocess; the expert is Llama Guard 3's format on a scripted mock model."""
    policy = {"name": "http", "version": "7", "store_text": False,
              "experts": [{"name": "lg3", "judge": "llama-guard-3", "timeout_s": 5,
                           "options": {"side": "prompt", "target": "mock/scripted",
                                       "target_options": {"default_reply": "unsafe\nS1"}}}]}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    port = _free_port()
    code = "import sys; from safetyscope.cli.guard_cmd import guard_app; guard_app(sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--policy", str(path), "--port", str(port),
         "--store", str(tmp_path / "guard.sqlite")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server did not start: {output[-2000:]}")
            time.sleep(0.2)
        response = httpx.post(f"{base}/v1/guard", json={"messages": [{"role": "user", "content": "hello"}]},
                              timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["action"] == "block" and body["categories"] == ["vcr"] and body["policy_version"] == "7"
        bad = httpx.post(f"{base}/v1/guard", content=b"[", headers={"content-type": "application/json"}, timeout=10)
        assert bad.status_code == 422
        assert "safetyscope_guard_decisions_total" in httpx.get(f"{base}/metrics", timeout=10).text
        assert json.loads(httpx.get(f"{base}/healthz", timeout=10).text)["policies"] == {"http": "7"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
