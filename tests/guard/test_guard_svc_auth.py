"""API keys (salted hashes, bound to policies), per-key token-bucket rate limits, and the ``keys`` CLI."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

from safetyscope.cli.guard_cmd import guard_app
from safetyscope.guard import GuardEngine, GuardPolicy, GuardStore
from safetyscope.guard.auth import Authenticator, AuthFailure, check_policy, create_key
from safetyscope.guard.ratelimit import RateLimiter, TokenBucket

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx (FastAPI's TestClient)")
TestClient = pytest.importorskip("fastapi.testclient", reason="the guard extra (fastapi) is not installed").TestClient
create_app = pytest.importorskip("safetyscope.guard.service").create_app
ServiceSettings = pytest.importorskip("safetyscope.guard.settings").ServiceSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every 1/rate seconds
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0 and bucket.take(0.5) > 0
    assert [bucket.take(100.0) for _ in range(4)][-1] > 0  # refills to the burst, never beyond
    clock = Clock()
    limiter = RateLimiter(clock)
    assert limiter.acquire("k", None, None) == 0.0 and limiter.acquire("k", None, None) == 0.0  # no limit
    assert limiter.acquire("a", 1.0, 1) == 0.0 and limiter.acquire("a", 1.0, 1) == pytest.approx(1.0)
    assert limiter.acquire("b", 1.0, 1) == 0.0  # per key
    clock.now += 1.0
    assert limiter.acquire("a", 1.0, 1) == 0.0


def test_keys_are_stored_as_salted_hashes(store: GuardStore) -> None:
    first = create_key(store, name="team", policies=("strict",))
    second = create_key(store, name="team", policies=("strict",))
    with sqlalchemy.create_engine(store._engine.url).connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT * FROM guard_api_keys")).mappings().all()
    dump = repr([dict(row) for row in rows])
    for key in (first, second):
        assert key.plaintext.startswith(f"sg_{key.key_id}_") and key.plaintext.split("_", 2)[2] not in dump
    assert rows[0]["salt"] != rows[1]["salt"]
    clock = Clock()
    auth = Authenticator(store, clock=clock)
    assert auth.required()
    assert auth.authenticate(f"Bearer {first.plaintext}").key_id == first.key_id
    for header in (None, "Basic abc", f"Bearer {first.plaintext}x", f"Bearer sg_{first.key_id}_{'A' * 43}",
                   f"Bearer {first.plaintext[:-1]}"):
        with pytest.raises(AuthFailure) as failure:
            auth.authenticate(header)
        assert failure.value.status == 401
    check_policy(auth.authenticate(f"Bearer {first.plaintext}"), "strict")
    with pytest.raises(AuthFailure, match="may not use policy 'other'") as denied:
        check_policy(auth.authenticate(f"Bearer {first.plaintext}"), "other")
    assert denied.value.status == 403
    assert store.revoke_key(first.key_id) and not store.revoke_key(first.key_id)
    assert auth.authenticate(f"Bearer {first.plaintext}")  # cached for CACHE_TTL_S
    clock.now += 1.5
    with pytest.raises(AuthFailure, match="revoked"):
        auth.authenticate(f"Bearer {first.plaintext}")
    with pytest.raises(Exception, match="at least one policy"):
        create_key(store, name="x", policies=())


@pytest.fixture
def engines(store, scripted, rules):
    bomb = scripted("bomb", rules["keyword"]("bomb"))

    def make(name: str) -> GuardEngine:
        policy = GuardPolicy(name=name, experts=[{"name": "bomb", "judge": "refusal"}])  # type: ignore[list-item]
        return GuardEngine(policy, store, judges={"bomb": bomb})

    return {"strict": make("strict"), "kids": make("kids")}


def _guard(client, policy: str, key: str | None = None, text: str = "hello"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/v1/guard", json={"messages": [{"role": "user", "content": text}], "policy": policy},
                       headers=headers)


def test_service_requires_keys_once_one_exists(engines, store) -> None:
    with TestClient(create_app(engines)) as client:
        assert _guard(client, "strict").status_code == 200  # no keys yet: open
        strict = create_key(store, name="a", policies=("strict",), can_label=True)
        limited = create_key(store, name="b", policies=("strict", "kids"), rate_per_s=1.0, burst=2)
        time.sleep(1.1)  # the "are keys required" answer is cached for a second
        missing = _guard(client, "strict")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert _guard(client, "strict", "sg_000000000000_" + "x" * 43).status_code == 401
        assert _guard(client, "strict", strict.plaintext).status_code == 200
        assert _guard(client, "kids", strict.plaintext).status_code == 403
        headers = {"Authorization": f"Bearer {strict.plaintext}", "X-Guard-Policy": "kids"}
        assert client.post("/v1/moderations", json={"input": "x"}, headers=headers).status_code == 403
        assert client.post("/v1/chat/completions", json={"messages": []}, headers=headers).status_code == 403
        answers = [_guard(client, "kids", limited.plaintext) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[2].headers["retry-after"]) >= 1 and "rate limit" in answers[2].json()["detail"]
        decision = _guard(client, "strict", strict.plaintext, "a bomb").json()["decision_id"]
        kids_only = create_key(store, name="c", policies=("kids",), can_label=True)
        denied = client.post("/v1/feedback", json={"decision_id": decision, "label": "unsafe"},
                             headers={"Authorization": f"Bearer {kids_only.plaintext}"})
        assert denied.status_code == 403
        user = create_key(store, name="d", policies=("strict",))  # may check, may not label
        not_labeller = client.post("/v1/feedback", json={"decision_id": decision, "label": "unsafe"},
                                   headers={"Authorization": f"Bearer {user.plaintext}"})
        assert not_labeller.status_code == 403 and "may not send labels" in not_labeller.json()["detail"]
        assert client.post("/v1/feedback", json={"decision_id": decision, "label": "unsafe"},
                           headers={"Authorization": f"Bearer {strict.plaintext}"}).status_code == 200
        assert client.get("/healthz").status_code == 200  # health and metrics stay open
        assert 'safetyscope_guard_http_errors_total{status="401"} 2' in client.get("/metrics").text


def test_feedback_without_keys_is_off_unless_open_feedback(engines, store) -> None:
    with TestClient(create_app(engines)) as client:
        decision = _guard(client, "strict", None, "a bomb").json()["decision_id"]
        refused = client.post("/v1/feedback", json={"decision_id": decision, "label": "safe"})
        assert refused.status_code == 403 and "--open-feedback" in refused.json()["detail"]
        assert store.get_decision(decision).true_label is None  # nothing learned
    with TestClient(create_app(engines, settings=ServiceSettings(open_feedback=True))) as client:
        assert client.post("/v1/feedback", json={"decision_id": decision, "label": "safe"}).status_code == 200


def test_revoking_the_last_key_keeps_keys_required(engines, store, caplog) -> None:
    key = create_key(store, name="a", policies=("strict",))
    with TestClient(create_app(engines)) as client:
        assert _guard(client, "strict", key.plaintext).status_code == 200
        assert store.revoke_key(key.key_id) and store.count_active_keys() == 0
        time.sleep(1.1)  # the "are keys required" answer is cached for a second
        with caplog.at_level("WARNING", logger="safetyscope.guard"):
            assert _guard(client, "strict").status_code == 401
            assert _guard(client, "strict", key.plaintext).status_code == 401
        assert "every API key is revoked" in caplog.text


def test_key_table_failure_refuses_instead_of_opening(store) -> None:
    class Broken:
        def key_counts(self) -> tuple[int, int]:
            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("down"))

    with pytest.raises(AuthFailure) as failure:
        Authenticator(Broken()).authenticate(None)  # type: ignore[arg-type]
    assert failure.value.status == 503


def test_require_key_with_no_keys_refuses_everyone(engines) -> None:
    with TestClient(create_app(engines, settings=ServiceSettings(require_key=True))) as client:
        assert _guard(client, "strict").status_code == 401


def store_key(location: str, key_id: str):
    opened = GuardStore.open(location)
    try:
        return opened.get_key(key_id)
    finally:
        opened.close()


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    location = str(tmp_path / "g.sqlite")
    created = runner.invoke(guard_app, ["keys", "create", "--policy", "strict", "--policy", "kids", "--name", "ops",
                                        "--rate", "5", "--burst", "10", "--label", "--store", location])
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip().splitlines()[-1]
    key_id = plaintext.split("_")[1]
    listed = runner.invoke(guard_app, ["keys", "list", "--store", location], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and key_id in listed.output and "strict, kids" in listed.output
    assert store_key(location, key_id).can_label
    assert plaintext.split("_", 2)[2] not in listed.output and "1 keys" in listed.output
    assert runner.invoke(guard_app, ["keys", "revoke", key_id, "--store", location]).exit_code == 0
    again = runner.invoke(guard_app, ["keys", "revoke", key_id, "--store", location])
    assert again.exit_code != 0
    assert "0 keys" in runner.invoke(guard_app, ["keys", "list", "--store", location]).output
    assert key_id in runner.invoke(guard_app, ["keys", "list", "--all", "--store", location],
                                   env={"COLUMNS": "200"}).output
    assert runner.invoke(guard_app, ["keys", "create", "--store", location]).exit_code != 0  # --policy required


def test_unknown_policies_are_not_revealed_before_authentication(engines, store) -> None:
    key = create_key(store, name="a", policies=("strict",))
    with TestClient(create_app(engines)) as client:
        anonymous = _guard(client, "secret-policy")
        assert anonymous.status_code == 401 and "strict" not in anonymous.text
        assert _guard(client, "secret-policy", key.plaintext).status_code == 403
        assert client.post("/v1/chat/completions", json={}, headers={"X-Guard-Policy": "nope"}).status_code == 401


def test_moderations_pay_one_token_per_text(engines, store) -> None:
    bucket = TokenBucket(1.0, 4, now=0.0)
    assert bucket.take(0.0, 3) == 0.0 and bucket.take(0.0, 2) == pytest.approx(1.0)  # 1 left, 2 needed
    with pytest.raises(ValueError, match="burst"):
        bucket.take(0.0, 5)
    key = create_key(store, name="m", policies=("strict",), rate_per_s=0.01, burst=4)
    headers = {"Authorization": f"Bearer {key.plaintext}", "X-Guard-Policy": "strict"}
    with TestClient(create_app(engines)) as client:
        assert client.post("/v1/moderations", json={"input": ["a", "b", "c"]}, headers=headers).status_code == 200
        assert client.post("/v1/moderations", json={"input": ["a", "b"]}, headers=headers).status_code == 429
        assert client.post("/v1/moderations", json={"input": "a"}, headers=headers).status_code == 200
        too_many = client.post("/v1/moderations", json={"input": ["x"] * 5}, headers=headers)
        assert too_many.status_code == 413 and "burst of 4" in too_many.json()["detail"]


async def test_key_table_refresh_runs_off_the_event_loop(engines, store, monkeypatch) -> None:
    readers: list[int] = []
    counts = store.key_counts

    def spying() -> tuple[int, int]:
        readers.append(threading.get_ident())
        return counts()

    monkeypatch.setattr(store, "key_counts", spying)
    app = create_app(engines)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guard") as client:
        reply = await client.post("/v1/guard", json={"messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200 and readers and threading.get_ident() not in readers
