"""The guard store on a real PostgreSQL server (``SAFETYSCOPE_TEST_POSTGRES_URL``), in a database of its own."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy

from safetyscope.core.database import database_url
from safetyscope.core.records import Message
from safetyscope.guard import GuardEngine, GuardPolicy, GuardStore
from safetyscope.guard.auth import Authenticator, create_key
from safetyscope.guard.engine import AlreadyLabelled
from safetyscope.guard.retention import purge
from safetyscope.guard.store import DecisionRow, NewDecision

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server (dropped afterwards), so other tests' tables are never touched."""
    url = os.environ.get("SAFETYSCOPE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide SAFETYSCOPE_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("no PostgreSQL server: set SAFETYSCOPE_TEST_POSTGRES_URL")
    name = f"guard_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


async def test_guard_store_on_postgres(postgres_url: str, scripted, rules) -> None:
    store = GuardStore.open(postgres_url)
    assert store.url.startswith("postgresql+psycopg://")
    policy = GuardPolicy(name="pg", store_text=False, experts=[{"name": "bomb", "judge": "refusal"},  # type: ignore[list-item]
                                                              {"name": "safe", "judge": "refusal"}])
    engine = GuardEngine(policy, store, judges={"bomb": scripted("bomb", rules["keyword"]("bomb")),
                                                "safe": scripted("safe", rules["always"]("safe"))})
    decision = await engine.check([Message(role="user", content="a bomb")])
    row = store.get_decision(decision.decision_id)
    assert row is not None and row.input_text is None and row.decision["experts"][0]["expert"] == "bomb"
    result = engine.feedback(decision.decision_id, "unsafe")
    assert result.weights["bomb"] > 0.5 and result.rounds == 1
    with pytest.raises(AlreadyLabelled):
        engine.feedback(decision.decision_id, "safe")
    store.close()

    reopened = GuardStore.open(postgres_url)  # migrations are not re-applied; weights are intact
    assert reopened.load_hedge("pg", ("bomb", "safe")).weights() == pytest.approx(result.weights, abs=1e-6)
    key = create_key(reopened, name="pg", policies=("pg",), rate_per_s=2.0)
    assert Authenticator(reopened).authenticate(f"Bearer {key.plaintext}").burst == 2
    assert reopened.revoke_key(key.key_id) and reopened.count_active_keys() == 0
    assert purge(reopened, 1) == 0 and reopened.purge_decisions("9999") == 1
    assert reopened.get_decision(decision.decision_id) is None
    reopened.close()


async def test_unwritable_decisions_never_block_the_writer_on_postgres(postgres_url: str, scripted, rules,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    store = GuardStore.open(postgres_url)
    policy = GuardPolicy(name="pg", experts=[{"name": "safe", "judge": "refusal"}])  # type: ignore[list-item]
    engine = GuardEngine(policy, store, judges={"safe": scripted("safe", rules["always"]("safe"))})
    store.start_writer(linger_s=0.05)
    canary = f"canary-{secrets.token_hex(6)}"
    try:
        with caplog.at_level("ERROR"):
            nul = await engine.check([Message(role="user", content=f"a\u0000b {canary}")])  # psycopg rejects NUL
            after = await engine.check([Message(role="user", content="next")])
            first = store.get_decision(nul.decision_id)
            assert first is not None and first.input_text == f"user: a\ufffdb {canary}"
            assert store.get_decision(after.decision_id) is not None
            # a row that can never be inserted (duplicate key) is set aside; the decisions behind it land
            duplicate = replace(_record(first), input_text=f"dup {canary}")
            store.queue_decision(duplicate)
            later = await engine.check([Message(role="user", content="later")])
            store.flush()
        assert store.get_decision(later.decision_id) is not None and store.pending_writes == 0
        assert store.dropped_writes == 1
        assert f"set aside unwritable decision {first.decision_id}: IntegrityError" in caplog.text
        assert canary not in caplog.text  # no prompt text in the logs, even from a failing INSERT
    finally:
        store.close()


def _record(row: DecisionRow) -> NewDecision:
    return NewDecision(decision_id=row.decision_id, policy=row.policy, policy_version=row.policy_version,
                       policy_digest="d", direction=row.direction, action=row.action, score=row.score,
                       categories=row.categories, decision=row.decision, input_hash=row.input_hash,
                       input_text=row.input_text, latency_ms=row.latency_ms)
