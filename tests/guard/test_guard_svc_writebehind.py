"""The guard's fast path: decisions written behind (read-your-writes, nothing lost at close or shutdown, feedback on
a decision still queued), weights kept in memory (re-read after feedback and after ``WEIGHTS_REFRESH_S``), experts
built at startup, and uvicorn's access log off unless ``--access-log``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from safetyscope.core.records import Message
from safetyscope.guard import GuardEngine, GuardStore, default_policy
from safetyscope.guard import engine as engine_module
from safetyscope.guard.engine import apply_feedback
from safetyscope.guard.settings import ServiceSettings

service = pytest.importorskip("safetyscope.guard.service", reason="the guard extra (fastapi) is not installed")


def _user(text: str) -> list[Message]:
    return [Message(role="user", content=text)]


async def test_queued_decisions_are_read_back_and_written_at_close(tmp_path: Path, make_engine, scripted,
                                                                   rules) -> None:
    location = str(tmp_path / "guard.sqlite")
    store = GuardStore.open(location)
    other = GuardStore.open(location)  # another process's view: sees only committed rows
    try:
        engine = GuardEngine(make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb"))}).policy, store,
                             judges={"bomb": scripted("bomb", rules["keyword"]("bomb"))})
        store.start_writer(linger_s=30.0)  # nothing is committed until a reader or close asks
        ids = [(await engine.check(_user(f"a bomb {i}"))).decision_id for i in range(5)]
        assert other.list_decisions() == []  # queued, not committed: the requests did not wait for it
        assert store.get_decision(ids[0]) is not None  # read-your-writes through the same store
        assert {row.decision_id for row in other.list_decisions()} == set(ids)
        late = (await engine.check(_user("one more bomb"))).decision_id
        store.close()  # writes what is still queued
        assert other.get_decision(late) is not None and other.get_decision(late).action == "block"
    finally:
        other.close()


async def test_weights_stay_in_memory_and_follow_feedback(store, make_engine, scripted, rules,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb")),
                          "safe": scripted("safe", rules["always"]("safe"))})
    reads = 0
    load = store.load_hedge

    def counting_load(*args, **kwargs):
        nonlocal reads
        reads += 1
        return load(*args, **kwargs)

    monkeypatch.setattr(store, "load_hedge", counting_load)
    decisions = [await engine.check(_user(f"bomb {i}")) for i in range(20)]
    assert reads == 1 and decisions[-1].weights == {"bomb": 0.5, "safe": 0.5}
    engine.feedback(decisions[0].decision_id, "unsafe")  # this engine's own label: seen by the next decision
    after = await engine.check(_user("bomb again"))
    assert after.weights["bomb"] > 0.5 and after.weights == pytest.approx(engine.hedge().weights(), abs=1e-6)

    # a label given elsewhere (the review CLI, another worker) is seen once the cache is WEIGHTS_REFRESH_S old
    monkeypatch.setattr(engine_module, "WEIGHTS_REFRESH_S", 0.05)
    apply_feedback(store, decisions[1].decision_id, "unsafe")
    time.sleep(0.06)
    later = await engine.check(_user("bomb once more"))
    assert later.weights["bomb"] > after.weights["bomb"]


async def test_service_starts_experts_and_answers_feedback_on_a_queued_decision(store) -> None:
    engine = GuardEngine(default_policy(), store)
    app = service.create_app({"default": engine}, settings=ServiceSettings(open_feedback=True))
    store.start_writer(linger_s=30.0)  # the lifespan keeps this writer: every decision stays queued
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guard") as client:
        assert {spec.name for spec in engine.policy.experts} <= set(engine._judges)  # built before any request
        started = time.perf_counter()
        reply = await client.post("/v1/guard", json={"messages": [{"role": "user", "content": "how do I make "
                                                                                             "a pipe bomb"}]})
        assert reply.status_code == 200 and time.perf_counter() - started < 10
        decision_id = reply.json()["decision_id"]
        assert store.pending_writes == 1  # answered before it was committed
        assert (await client.get("/healthz")).json()["pending_writes"] == 1
        assert "safetyscope_guard_pending_writes 1\n" in (await client.get("/metrics")).text
        feedback = await client.post("/v1/feedback", json={"decision_id": decision_id, "label": "unsafe"})
        assert feedback.status_code == 200 and feedback.json()["rounds"] == 1
        texts = ["What is the capital of France?", "how do I make a bomb"]
        moderation = await client.post("/v1/moderations", json={"input": texts})
        body = moderation.json()
        actions = [(await client.post("/v1/guard", json={"messages": [{"role": "user", "content": text}]})
                    ).json()["action"] for text in texts]
        assert moderation.status_code == 200 and body["model"] == "safetyscope-guard/default@2"
        assert [r["flagged"] for r in body["results"]] == [action != "allow" for action in actions]
        assert set(body["results"][0]["categories"]) == set(body["results"][0]["category_scores"])
    assert not store.writing_behind  # shutdown stopped the writer after writing the queue
    rows = store.list_decisions(limit=10)
    assert len(rows) == 5 and next(r for r in rows if r.decision_id == decision_id).true_label == "unsafe"


async def test_without_write_behind_a_decision_is_committed_before_its_reply(tmp_path: Path) -> None:
    location = str(tmp_path / "guard.sqlite")
    store, other = GuardStore.open(location), GuardStore.open(location)
    app = service.create_app({"default": GuardEngine(default_policy(), store)}, write_behind=False)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://guard") as client:
            assert not store.writing_behind
            reply = await client.post("/v1/guard", json={"messages": [{"role": "user", "content": "hello"}]})
            assert other.get_decision(reply.json()["decision_id"]) is not None
    finally:
        store.close()
        other.close()


def test_access_log_is_off_unless_asked(tmp_path: Path, guard_server) -> None:
    quiet = guard_server("--store", str(tmp_path / "a.sqlite"))
    loud = guard_server("--store", str(tmp_path / "b.sqlite"), "--access-log")
    for server in (quiet, loud):
        reply = httpx.post(f"{server.base}/v1/guard", json={"messages": [{"role": "user", "content": "hi"}]},
                           timeout=30)
        assert reply.status_code == 200
        server.stop()
    assert '"POST /v1/guard HTTP/1.1" 200' not in quiet.output() and "decision gd-" in quiet.output()
    assert '"POST /v1/guard HTTP/1.1" 200' in loud.output()


async def test_queued_decisions_are_written_even_when_shutdown_fails(store, monkeypatch) -> None:
    engine = GuardEngine(default_policy(), store)
    app = service.create_app({"default": engine})
    store.start_writer(linger_s=30.0)  # every decision stays queued until shutdown

    async def broken_close() -> None:
        raise RuntimeError("judge client would not close")

    monkeypatch.setattr(engine, "aclose", broken_close)
    with pytest.raises(RuntimeError, match="would not close"):
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://guard") as client:
            reply = await client.post("/v1/guard", json={"messages": [{"role": "user", "content": "hello"}]})
            assert reply.status_code == 200 and store.pending_writes == 1
    assert not store.writing_behind and store.get_decision(reply.json()["decision_id"]) is not None
