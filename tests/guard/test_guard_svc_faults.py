"""Faults on a real ``safetyscope guard serve`` subprocess: SIGTERM with requests in flight, restart (weights and
review queue intact), oversized and malformed bodies, and prompt text kept out of the log unless ``--log-text``."""

from __future__ import annotations

import asyncio
import secrets
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from safetyscope.guard import GuardStore

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx")
pytest.importorskip("safetyscope.guard.service", reason="the guard extra (fastapi) is not installed")
CLEAN_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its graceful shutdown


def _expert(name: str, reply: str, latency_s: float = 0.0) -> dict[str, Any]:
    return {"name": name, "judge": "llama-guard-3", "timeout_s": 10,
            "options": {"side": "prompt", "target": "mock/scripted",
                        "target_options": {"default_reply": reply, "latency_s": latency_s}}}


def _policy(tmp_path: Path, **fields: Any) -> str:
    path = tmp_path / f"policy-{secrets.token_hex(3)}.yaml"
    path.write_text(yaml.safe_dump(fields), encoding="utf-8")
    return str(path)


def _messages(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_sigterm_lets_in_flight_requests_finish_and_loses_no_decision(tmp_path: Path, guard_server) -> None:
    policy = _policy(tmp_path, name="slow", experts=[_expert("lg3", "safe", latency_s=1.5)])
    location = str(tmp_path / "guard.sqlite")
    server = guard_server("--policy", policy, "--store", location)
    canary = f"canary-{secrets.token_hex(8)}"
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        calls = [asyncio.create_task(client.post("/v1/guard", json=_messages(f"{canary} {i}"))) for i in range(6)]
        calls.append(asyncio.create_task(client.post("/v1/moderations", json={"input": [canary, "x"]})))
        await asyncio.sleep(0.6)  # all in flight (each expert call takes 1.5 s)
        assert not any(call.done() for call in calls)
        server.process.send_signal(signal.SIGTERM)
        replies = await asyncio.gather(*calls)
    assert [reply.status_code for reply in replies] == [200] * 7
    assert await asyncio.to_thread(server.stop) in CLEAN_EXIT
    store = GuardStore.open(location)
    try:
        for reply in replies[:6]:
            row = store.get_decision(reply.json()["decision_id"])
            assert row is not None and row.action == "allow" and row.input_text.startswith(f"user: {canary}")
        assert len(store.list_decisions(limit=100)) == 8  # 6 guard + 2 moderation texts
    finally:
        store.close()
    output = server.output()
    assert "Waiting for application shutdown" in output or "Shutting down" in output
    assert "decision gd-" in output and canary not in output  # decisions logged, their text not


async def test_restart_keeps_weights_and_review_queue(tmp_path: Path, guard_server) -> None:
    policy = _policy(tmp_path, name="rev", conformal={"alpha": 0.1, "q": 1.0, "n": 5},
                     experts=[_expert("yes", "unsafe\nS1"), _expert("no", "safe")])
    location = str(tmp_path / "guard.sqlite")
    canary = f"canary-{secrets.token_hex(8)}"
    server = guard_server("--policy", policy, "--store", location, "--open-feedback")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        first = (await client.post("/v1/guard", json=_messages("first"))).json()
        queued = (await client.post("/v1/guard", json=_messages("second"))).json()
        assert first["action"] == queued["action"] == "review"
        learned = (await client.post("/v1/feedback", json={"decision_id": first["decision_id"], "label": "safe"}
                                     )).json()
        before = [line for line in (await client.get("/metrics")).text.splitlines() if "expert_weight{" in line]
    assert learned["weights"]["no"] > 0.5 and server.stop() in CLEAN_EXIT
    restarted = guard_server("--policy", policy, "--store", location, "--log-text", "--open-feedback")
    async with httpx.AsyncClient(base_url=restarted.base, timeout=30) as client:
        after = [line for line in (await client.get("/metrics")).text.splitlines() if "expert_weight{" in line]
        assert after == before and len(after) == 2
        decision = (await client.post("/v1/guard", json=_messages(canary))).json()
        assert decision["weights"] == learned["weights"]  # the restored weights vote
        resolved = (await client.post("/v1/feedback", json={"decision_id": queued["decision_id"],
                                                            "label": "safe"})).json()
        assert resolved["rounds"] == 2  # continues from the stored state
    assert restarted.stop() in CLEAN_EXIT
    store = GuardStore.open(location)
    try:
        waiting = [row.decision_id for row in store.list_decisions(action="review", unlabelled=True)]
    finally:
        store.close()
    assert waiting == [decision["decision_id"]]
    assert canary in restarted.output()  # --log-text writes the text


async def test_bad_bodies_on_a_real_server(tmp_path: Path, guard_server) -> None:
    policy = _policy(tmp_path, name="p", experts=[_expert("lg3", "safe")])
    server = guard_server("--policy", policy, "--store", str(tmp_path / "g.sqlite"), "--max-body-bytes", "2048")

    async def chunked():
        for _ in range(100):
            yield b"x" * 1024

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        headers = {"content-type": "application/json"}
        assert (await client.post("/v1/guard", content=b"{", headers=headers)).status_code == 422
        assert (await client.post("/v1/guard", content=b"\xff\xfe", headers=headers)).status_code == 422
        assert (await client.post("/v1/guard", json=_messages("y" * 5000))).status_code == 413
        assert (await client.post("/v1/guard", content=chunked(), headers=headers)).status_code == 413
        assert (await client.post("/v1/chat/completions", json=_messages("hi"))).status_code == 503  # no upstream
        assert (await client.post("/v1/guard", json=_messages("fine"))).json()["action"] == "allow"
    assert server.stop() in CLEAN_EXIT
