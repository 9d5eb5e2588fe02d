"""The guard store: decisions, feedback and learned expert weights. SQLite by default, any SQLAlchemy URL.

It follows ``runner/store.py``: SQLAlchemy Core, an append-only migration list (never edit a released
migration, add the next), its own version table ``guard_schema_migrations`` so it can share a database
with the results store. API keys (``guard_api_keys``) hold only a salted hash of each secret.

Write-behind (the service turns it on with :meth:`GuardStore.start_writer`): :meth:`GuardStore.queue_decision`
hands a decision to one background thread that inserts in batches (``core/batching.py``), so a request never
waits on a commit. Every read or change of decisions through the same store object first waits for the
decisions queued before it (read-your-writes in this process); :meth:`GuardStore.stop_writer` and ``close``
write what is still queued. Another process (the review CLI) sees a decision once its batch is committed,
normally within ``linger_s`` (10 ms) of the decision. A decision that can never be written is set aside and
counted (:attr:`GuardStore.dropped_writes`) so it cannot block the others; NUL in ``input_text`` is stored as
U+FFFD (PostgreSQL text cannot hold NUL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from safetyscope.core.batching import ThreadedBatchWriter
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

guard_api_keys = Table(
    "guard_api_keys", metadata,
    Column("key_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("salt", Text, nullable=False),  # hex
    Column("secret_hash", Text, nullable=False),  # hex BLAKE2b of the secret with the salt
    Column("policies", Text, nullable=False),  # JSON list of policy names
    Column("rate_per_s", Float),  # null: no rate limit
    Column("burst", Integer),
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text),
    Column("can_label", Integer, nullable=False),  # 1: may send POST /v1/feedback (changes shared weights)
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
    [
        "CREATE TABLE guard_api_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL, salt TEXT NOT NULL, "
        "secret_hash TEXT NOT NULL, policies TEXT NOT NULL, rate_per_s DOUBLE PRECISION, burst INTEGER, "
        "created_at TEXT NOT NULL, revoked_at TEXT)",
        "CREATE INDEX guard_decisions_created ON guard_decisions (created_at)",
    ],
    [
        "ALTER TABLE guard_api_keys ADD COLUMN can_label INTEGER NOT NULL DEFAULT 0",
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


@dataclass(frozen=True)
class ApiKeyRow:
    """A stored API key (its secret only as a salted hash)."""

    key_id: str
    name: str
    salt: str
    secret_hash: str
    policies: tuple[str, ...]
    rate_per_s: float | None
    burst: int | None
    created_at: str
    revoked_at: str | None
    can_label: bool = False  # may send true labels (POST /v1/feedback), which change the policy's weights


@dataclass(frozen=True)
class NewDecision:
    """A decision to insert (``created_at`` is when it was made, not when it is written)."""

    decision_id: str
    policy: str
    policy_version: str
    policy_digest: str
    direction: str
    action: str
    score: float | None
    categories: tuple[str, ...]
    decision: dict[str, Any]
    input_hash: str
    input_text: str | None
    latency_ms: float
    created_at: str = field(default_factory=utc_now)

    def values(self) -> dict[str, Any]:
        """The row's column values."""
        return {"decision_id": self.decision_id, "created_at": self.created_at, "policy": self.policy,
                "policy_version": self.policy_version, "policy_digest": self.policy_digest,
                "direction": self.direction, "action": self.action, "score": self.score,
                "categories": orjson.dumps(list(self.categories)).decode(),
                "decision": orjson.dumps(self.decision).decode(), "input_hash": self.input_hash,
                "input_text": None if self.input_text is None else self.input_text.replace("\x00", "\ufffd"),
                "latency_ms": self.latency_ms}  # PostgreSQL text cannot hold NUL: stored as U+FFFD


class GuardStore(MigratedDatabase):
    """Access to one guard database. Thread-safe one call at a time (each call is one transaction); with the
    writer started, decisions can also be queued for a background thread (see the module docstring)."""

    migrations = MIGRATIONS
    version_table = "guard_schema_migrations"
    what = "guard store"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._writer: ThreadedBatchWriter[NewDecision] | None = None
        self._dropped_before = 0  # decisions set aside by writers already stopped

    # --- write-behind -----------------------------------------------------------------------------------

    def start_writer(self, *, batch_size: int = 512, linger_s: float = 0.01) -> None:
        """Start the background decision writer (no-op when running)."""
        if self._writer is None:
            self._writer = ThreadedBatchWriter(self.add_decisions, name="guard-decision-writer",
                                               batch_size=batch_size, linger_s=linger_s,
                                               describe=lambda decision: f"decision {decision.decision_id}")

    @property
    def writing_behind(self) -> bool:
        """Whether :meth:`queue_decision` may be used."""
        return self._writer is not None

    @property
    def pending_writes(self) -> int:
        """Decisions queued and not yet committed (0 without a writer)."""
        writer = self._writer
        return 0 if writer is None else writer.pending

    @property
    def dropped_writes(self) -> int:
        """Decisions the writer set aside because they could never be written (see ``core/batching.py``)."""
        writer = self._writer
        return self._dropped_before + (0 if writer is None else writer.dropped)

    def queue_decision(self, decision: NewDecision) -> None:
        """Queue a decision for the writer (never blocks on the database); written directly when no writer runs.
        :class:`~safetyscope.core.batching.WriteBacklog` when the writer is too far behind."""
        if self._writer is None:
            self.add_decisions([decision])
        else:
            self._writer.add(decision)

    def flush(self) -> None:
        """Wait until every decision queued so far is written (no-op without a writer)."""
        writer = self._writer
        if writer is not None:
            writer.flush()

    def stop_writer(self) -> None:
        """Write what is queued and stop the writer (decisions are then written directly again)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            finally:
                self._dropped_before += writer.dropped

    def close(self) -> None:
        try:
            self.stop_writer()
        finally:
            super().close()

    # --- decisions --------------------------------------------------------------------------------------

    def add_decisions(self, decisions: Sequence[NewDecision]) -> None:
        """Insert decisions in one transaction."""
        if decisions:
            with self._engine.begin() as conn:
                conn.execute(insert(guard_decisions), [decision.values() for decision in decisions])

    def add_decision(self, *, decision_id: str, policy: str, policy_version: str, policy_digest: str,
                     direction: str, action: str, score: float | None, categories: tuple[str, ...],
                     decision: dict[str, Any], input_hash: str, input_text: str | None, latency_ms: float) -> None:
        self.add_decisions([NewDecision(
            decision_id=decision_id, policy=policy, policy_version=policy_version, policy_digest=policy_digest,
            direction=direction, action=action, score=score, categories=categories, decision=decision,
            input_hash=input_hash, input_text=input_text, latency_ms=latency_ms)])

    def get_decision(self, decision_id: str) -> DecisionRow | None:
        self.flush()
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
        self.flush()
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_decision_row(row) for row in rows]

    def purge_decisions(self, before: str) -> int:
        """Delete decisions created before the ISO-8601 UTC time ``before``; returns how many. Learned weights
        are kept (they live in their own tables)."""
        self.flush()
        with self._engine.begin() as conn:
            return int(conn.execute(delete(guard_decisions).where(guard_decisions.c.created_at < before)).rowcount)

    # --- API keys ---------------------------------------------------------------------------------------

    def add_key(self, *, key_id: str, name: str, salt: str, secret_hash: str, policies: tuple[str, ...],
                rate_per_s: float | None, burst: int | None, can_label: bool = False) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(guard_api_keys).values(
                key_id=key_id, name=name, salt=salt, secret_hash=secret_hash,
                policies=orjson.dumps(list(policies)).decode(), rate_per_s=rate_per_s, burst=burst,
                created_at=utc_now(), can_label=int(can_label)))

    def get_key(self, key_id: str) -> ApiKeyRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(guard_api_keys).where(guard_api_keys.c.key_id == key_id)).mappings().first()
        return None if row is None else _key_row(row)

    def list_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRow]:
        query = select(guard_api_keys).order_by(guard_api_keys.c.created_at, guard_api_keys.c.key_id)
        if not include_revoked:
            query = query.where(guard_api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_key_row(row) for row in conn.execute(query).mappings().all()]

    def count_active_keys(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(guard_api_keys)
                                    .where(guard_api_keys.c.revoked_at.is_(None))).scalar() or 0)

    def key_counts(self) -> tuple[int, int]:
        """(keys ever created, revoked ones included; keys revoked), in one query."""
        with self._engine.connect() as conn:
            row = conn.execute(select(func.count(), func.count(guard_api_keys.c.revoked_at))
                               .select_from(guard_api_keys)).one()
        return int(row[0]), int(row[1])

    def revoke_key(self, key_id: str) -> bool:
        """Revoke an active key; False when there is no such active key."""
        with self._engine.begin() as conn:
            return bool(conn.execute(update(guard_api_keys).where(
                guard_api_keys.c.key_id == key_id, guard_api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())).rowcount)

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
        self.flush()
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


def _key_row(row: Any) -> ApiKeyRow:
    return ApiKeyRow(key_id=row["key_id"], name=row["name"], salt=row["salt"], secret_hash=row["secret_hash"],
                     policies=tuple(orjson.loads(row["policies"])), rate_per_s=row["rate_per_s"], burst=row["burst"],
                     created_at=row["created_at"], revoked_at=row["revoked_at"], can_label=bool(row["can_label"]))
