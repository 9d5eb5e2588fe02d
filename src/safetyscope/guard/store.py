"""The guard store: decisions, feedback and learned expert weights. SQLite by default, any SQLAlchemy URL.

It follows ``runner/store.py``: SQLAlchemy Core, an append-only migration list (never edit a released
migration, add the next), its own version table ``guard_schema_migrations`` so it can share a database
with the results store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from safetyscope.core.database import MigratedDatabase, utc_now
from safetyscope.guard.hedge import Hedge

metadata = MetaData()

guard_decisions = Table(
    "guard_decisions", metadata,
    Column("decision_id", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("policy_digest", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("action", Text, nullable=False),  # allow | block | review
    Column("score", Float),
    Column("categories", Text, nullable=False),  # JSON list of canonical hazards
    Column("decision", Text, nullable=False),  # the full GuardDecision as JSON (experts, weights, ...)
    Column("input_hash", Text, nullable=False),
    Column("input_text", Text),  # null when the policy stores hashes only
    Column("latency_ms", Float, nullable=False),
    Column("true_label", Text),  # safe | unsafe, from feedback or review
    Column("feedback_at", Text),
)

guard_weights = Table(
    "guard_weights", metadata,
    Column("policy", Text, primary_key=True),
    Column("expert", Text, primary_key=True),
    Column("cumulative_loss", Float, nullable=False),
    Column("updated_at", Text, nullable=False),
)

guard_rounds = Table(
    "guard_rounds", metadata,
    Column("policy", Text, primary_key=True),
    Column("rounds", Integer, nullable=False),
    Column("mixture_loss", Float, nullable=False),
    Column("updated_at", Text, nullable=False),
)

MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE guard_decisions (decision_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, policy TEXT NOT NULL, "
        "policy_version TEXT NOT NULL, policy_digest TEXT NOT NULL, direction TEXT NOT NULL, action TEXT NOT NULL, "
        "score DOUBLE PRECISION, categories TEXT NOT NULL, decision TEXT NOT NULL, input_hash TEXT NOT NULL, "
        "input_text TEXT, latency_ms DOUBLE PRECISION NOT NULL, true_label TEXT, feedback_at TEXT)",
        "CREATE INDEX guard_decisions_action ON guard_decisions (action, true_label)",
        "CREATE TABLE guard_weights (policy TEXT NOT NULL, expert TEXT NOT NULL, "
        "cumulative_loss DOUBLE PRECISION NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (policy, expert))",
        "CREATE TABLE guard_rounds (policy TEXT PRIMARY KEY, rounds INTEGER NOT NULL, "
        "mixture_loss DOUBLE PRECISION NOT NULL, updated_at TEXT NOT NULL)",
    ],
]


@dataclass(frozen=True)
class DecisionRow:
    """A stored decision."""

    decision_id: str
    created_at: str
    policy: str
    policy_version: str
    direction: str
    action: str
    score: float | None
    categories: tuple[str, ...]
    decision: dict[str, Any]
    input_hash: str
    input_text: str | None
    latency_ms: float
    true_label: str | None


class GuardStore(MigratedDatabase):
    """Access to one guard database. Thread-safe one call at a time (each call is one transaction)."""

    migrations = MIGRATIONS
    version_table = "guard_schema_migrations"
    what = "guard store"

    # --- decisions --------------------------------------------------------------------------------------

    def add_decision(self, *, decision_id: str, policy: str, policy_version: str, policy_digest: str,
                     direction: str, action: str, score: float | None, categories: tuple[str, ...],
                     decision: dict[str, Any], input_hash: str, input_text: str | None, latency_ms: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(guard_decisions).values(
                decision_id=decision_id, created_at=utc_now(), policy=policy, policy_version=policy_version,
                policy_digest=policy_digest, direction=direction, action=action, score=score,
                categories=orjson.dumps(list(categories)).decode(), decision=orjson.dumps(decision).decode(),
                input_hash=input_hash, input_text=input_text, latency_ms=latency_ms))

    def get_decision(self, decision_id: str) -> DecisionRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(guard_decisions).where(guard_decisions.c.decision_id == decision_id)
                               ).mappings().first()
        return None if row is None else _decision_row(row)

    def list_decisions(self, *, action: str | None = None, unlabelled: bool = False,
                       limit: int = 100) -> list[DecisionRow]:
        query = select(guard_decisions)
        if action is not None:
            query = query.where(guard_decisions.c.action == action)
        if unlabelled:
            query = query.where(guard_decisions.c.true_label.is_(None))
        query = query.order_by(guard_decisions.c.created_at, guard_decisions.c.decision_id).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_decision_row(row) for row in rows]

    # --- weights ----------------------------------------------------------------------------------------

    def load_hedge(self, policy: str, experts: tuple[str, ...], *, horizon: int | None = None) -> Hedge:
        """The policy's Hedge state (fresh for experts never seen; stored experts no longer listed are ignored)."""
        hedge = Hedge.fresh(experts, horizon=horizon)
        with self._engine.connect() as conn:
            for row in conn.execute(select(guard_weights).where(guard_weights.c.policy == policy)).mappings():
                if row["expert"] in hedge.losses:
                    hedge.losses[row["expert"]] = float(row["cumulative_loss"])
            state = conn.execute(select(guard_rounds).where(guard_rounds.c.policy == policy)).mappings().first()
        if state is not None:
            hedge.rounds = int(state["rounds"])
            hedge.mixture_loss = float(state["mixture_loss"])
        return hedge

    def record_feedback(self, decision_id: str, label: str, policy: str, hedge: Hedge | None) -> bool:
        """Set the decision's true label and save the updated weights, in one transaction. False when the
        decision already had a label (nothing changes)."""
        now = utc_now()
        with self._engine.begin() as conn:
            changed = conn.execute(update(guard_decisions).where(
                guard_decisions.c.decision_id == decision_id, guard_decisions.c.true_label.is_(None))
                .values(true_label=label, feedback_at=now)).rowcount
            if not changed:
                return False
            if hedge is not None:
                conn.execute(delete(guard_weights).where(guard_weights.c.policy == policy,
                                                         guard_weights.c.expert.in_(hedge.experts)))
                conn.execute(insert(guard_weights), [
                    {"policy": policy, "expert": name, "cumulative_loss": loss, "updated_at": now}
                    for name, loss in hedge.losses.items()])
                conn.execute(delete(guard_rounds).where(guard_rounds.c.policy == policy))
                conn.execute(insert(guard_rounds).values(policy=policy, rounds=hedge.rounds,
                                                         mixture_loss=hedge.mixture_loss, updated_at=now))
        return True


def _decision_row(row: Any) -> DecisionRow:
    return DecisionRow(decision_id=row["decision_id"], created_at=row["created_at"], policy=row["policy"],
                       policy_version=row["policy_version"], direction=row["direction"], action=row["action"],
                       score=row["score"], categories=tuple(orjson.loads(row["categories"])),
                       decision=orjson.loads(row["decision"]), input_hash=row["input_hash"],
                       input_text=row["input_text"], latency_ms=float(row["latency_ms"]),
                       true_label=row["true_label"])
