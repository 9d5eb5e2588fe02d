"""Retention: purging old decisions (function, CLI, periodic in the service) keeps weights; settings files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

from safetyscope.cli.guard_cmd import guard_app
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.guard import GuardStore
from safetyscope.guard.retention import cutoff, purge
from safetyscope.guard.settings import load_settings


def _age(store: GuardStore, decision_id: str, days: float) -> None:
    """Backdate a decision by ``days``."""
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    store.flush()  # a running service queues decisions for its background writer: written before we go around it
    with sqlalchemy.create_engine(store._engine.url).begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE guard_decisions SET created_at = :t WHERE decision_id = :d"),
                     {"t": when, "d": decision_id})


async def _decisions(engine, count: int) -> list[str]:
    return [(await engine.check([Message(role="user", content=f"a bomb {i}")])).decision_id for i in range(count)]


async def test_purge_deletes_only_old_decisions_and_keeps_weights(make_engine, scripted, rules, store) -> None:
    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb")), "safe": scripted("safe",
                                                                                               rules["always"]("safe"))})
    old, new = await _decisions(engine, 3), await _decisions(engine, 2)
    engine.feedback(old[0], "unsafe")
    weights = engine.hedge().weights()
    for decision_id in old:
        _age(store, decision_id, 40)
    assert purge(store, 30) == 3
    assert [store.get_decision(d) for d in old] == [None] * 3
    assert all(store.get_decision(d) is not None for d in new)
    assert engine.hedge().weights() == weights and engine.hedge().rounds == 1
    assert purge(store, 30) == 0
    assert cutoff(1, datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-01T00:00:00.000+00:00"


async def test_purge_cli_and_settings(tmp_path: Path, make_engine, scripted, rules) -> None:
    location = str(tmp_path / "g.sqlite")
    store = GuardStore.open(location)
    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb"))})
    engine.store = store
    ids = await _decisions(engine, 2)
    _age(store, ids[0], 10)
    store.close()
    config = tmp_path / "guard.yaml"
    config.write_text("retention_days: 5\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(guard_app, ["purge", "--config", str(config), "--store", location])
    assert result.exit_code == 0 and "purged 1 decisions older than 5 days" in result.output
    assert runner.invoke(guard_app, ["purge", "--store", location]).exit_code != 0  # no retention given
    config.write_text("retention_days: -1\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"guard.yaml: invalid settings: field 'retention_days'.*field 'bogus'"):
        load_settings(config)
    assert load_settings(None, upstream="http://h/v1", log_text=None).chat_url == "http://h/v1/chat/completions"


async def test_service_purges_periodically(make_engine, scripted, rules, store) -> None:
    httpx = pytest.importorskip("httpx")
    service = pytest.importorskip("safetyscope.guard.service")
    from safetyscope.guard.settings import ServiceSettings

    engine = make_engine({"bomb": scripted("bomb", rules["keyword"]("bomb"))})
    ids = await _decisions(engine, 2)
    _age(store, ids[0], 3)
    app = service.create_app({"default": engine}, settings=ServiceSettings(retention_days=1, purge_interval_s=0.1))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://guard") as client:
        fresh = (await client.post("/v1/guard", json={"messages": [{"role": "user", "content": "hi"}]})).json()
        _age(store, fresh["decision_id"], 2)  # ages while the service runs: the next round removes it
        for _ in range(50):
            if store.get_decision(fresh["decision_id"]) is None:
                break
            await asyncio.sleep(0.05)
    assert store.get_decision(ids[0]) is None and store.get_decision(fresh["decision_id"]) is None
    assert store.get_decision(ids[1]) is not None
