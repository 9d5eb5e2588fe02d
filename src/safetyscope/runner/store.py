"""The results store: SQLite by default (WAL), or any SQLAlchemy URL (PostgreSQL for teams).

Every target call and judge call is stored under a content hash of its inputs, so a resumed or repeated
run reuses them. Writes are batched into one transaction each; a crash loses only what was in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, and_, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from safetyscope.core.database import MigratedDatabase, utc_now
from safetyscope.core.records import Generation, RefusalState, Verdict, VerdictLabel
from safetyscope.runner.schema import MIGRATIONS, attempts, judge_validations, responses, run_attacks, runs, verdicts

_LOOKUP_CHUNK = 500



@dataclass(frozen=True)
class RunRow:
    """A run as stored."""

    run_id: str
    created_at: str
    updated_at: str
    status: str
    spec: dict[str, Any]
    target: str
    dataset: str
    judge: str
    planned: int | None
    note: str | None
    judge_key: str | None


@dataclass(frozen=True)
class ValidationRow:
    """A stored judge validation: the confusion counts against human labels, and the full report."""

    validation_id: str
    created_at: str
    judge: str
    judge_key: str
    labels: str
    positive: str
    tp: int
    fp: int
    fn: int
    tn: int
    unscored: int
    report: dict[str, Any]


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt to write: what was sent, and (when done) the keys of its response and verdict."""

    run_id: str
    attempt_id: str
    sample_json: str
    sample_id: str
    dataset: str
    hazard: str
    expect: str
    language: str
    attack: str
    attack_seed: int
    sent_json: str
    response_key: str | None
    decoded_response: str | None
    verdict_key: str | None
    error: str | None
    conversation_json: str | None = None  # multi-turn attacks: the whole transcript
    queries: int | None = None  # multi-turn attacks: target queries used


@dataclass(frozen=True)
class TallyRow:
    """Count of attempts sharing (attack, hazard, expect, status, label, refusal, unscored reason, error,
    queries); ``queries`` is set only for multi-turn attacks."""

    attack: str
    hazard: str
    expect: str
    status: str
    label: str | None
    refusal: str | None
    unscored_reason: str | None
    error: str | None
    count: int
    queries: int | None = None


class Store(MigratedDatabase):
    """Access to one results database. Safe to share between threads one call at a time."""

    migrations = MIGRATIONS
    version_table = "schema_migrations"
    what = "store"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._dialect = engine.dialect.name

    # --- runs -------------------------------------------------------------------------------------------

    def create_run(self, *, run_id: str, spec_json: str, target: str, dataset: str, judge: str,
                   judge_key: str, planned: int | None, version: str) -> None:
        now = utc_now()
        with self._engine.begin() as conn:
            conn.execute(insert(runs).values(run_id=run_id, created_at=now, updated_at=now, status="running",
                                             spec=spec_json, target=target, dataset=dataset, judge=judge,
                                             judge_key=judge_key, planned=planned, version=version))

    def set_run_status(self, run_id: str, status: str, note: str | None = None) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id)
                         .values(status=status, note=note, updated_at=utc_now()))

    def record_attacks(self, run_id: str, specs: Mapping[str, str]) -> None:
        """Store each attack's full spec JSON (name → spec) for a run; a resumed run keeps the first record."""
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(run_attacks).on_conflict_do_nothing(
            index_elements=[run_attacks.c.run_id, run_attacks.c.attack])
        with self._engine.begin() as conn:
            conn.execute(statement, [{"run_id": run_id, "attack": name, "spec": spec} for name, spec in specs.items()])

    def attack_specs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The full spec of every attack a run used, by name (empty for runs stored before migration 4)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(run_attacks).where(run_attacks.c.run_id == run_id)).mappings().all()
        return {row["attack"]: orjson.loads(row["spec"]) for row in rows}

    def get_run(self, run_id: str) -> RunRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
        return None if row is None else _run_row(row)

    def list_runs(self) -> list[RunRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.created_at)).mappings().all()
        return [_run_row(row) for row in rows]

    # --- judge validations ------------------------------------------------------------------------------

    def add_validation(self, row: ValidationRow) -> None:
        with self._engine.begin() as conn:
            # a dict, not keywords: SQLAlchemy's values() has its own parameter named "fn"
            conn.execute(insert(judge_validations).values(
                {**asdict(row), "report": orjson.dumps(row.report).decode()}))

    def latest_validation(self, judge_key: str, *, positive: str | None = None) -> ValidationRow | None:
        """The newest validation of exactly this judge (same spec), if any; only those whose positive class
        means ``positive`` when given."""
        query = select(judge_validations).where(judge_validations.c.judge_key == judge_key)
        if positive is not None:
            query = query.where(judge_validations.c.positive == positive)
        query = query.order_by(judge_validations.c.created_at.desc()).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return ValidationRow(**{**dict(row), "report": orjson.loads(row["report"])})

    # --- attempts, responses, verdicts ------------------------------------------------------------------

    def done_attempt_ids(self, run_id: str) -> set[str]:
        """Attempts of a run that finished (errors excluded: those are retried on resume)."""
        query = select(attempts.c.attempt_id).where(attempts.c.run_id == run_id, attempts.c.status == "done")
        with self._engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def lookup_responses(self, keys: Iterable[str]) -> dict[str, Generation]:
        found: dict[str, Generation] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                for row in conn.execute(select(responses).where(responses.c.key.in_(chunk))).mappings():
                    found[row["key"]] = Generation(
                        text=row["text"], finish_reason=row["finish_reason"], latency_ms=row["latency_ms"] or 0.0,
                        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"])
        return found

    def lookup_verdicts(self, keys: Iterable[str]) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                for row in conn.execute(select(verdicts).where(verdicts.c.key.in_(chunk))).mappings():
                    found[row["key"]] = verdict_from_row(row)
        return found

    def write_batch(self, *, new_responses: Sequence[tuple[str, str, Generation]],
                    new_verdicts: Sequence[tuple[str, str, str, Verdict]],
                    finished: Sequence[AttemptRecord]) -> None:
        """One transaction: responses (key, target, generation), verdicts (key, judge, response key,
        verdict) and the attempts that use them. Existing keys are left untouched."""
        now = utc_now()
        with self._engine.begin() as conn:
            if new_responses:
                conn.execute(self._insert_ignore(responses), [
                    {"key": key, "target": target, "text": gen.text, "finish_reason": gen.finish_reason,
                     "latency_ms": gen.latency_ms, "prompt_tokens": gen.prompt_tokens,
                     "completion_tokens": gen.completion_tokens, "created_at": now}
                    for key, target, gen in new_responses])
            if new_verdicts:
                conn.execute(self._insert_ignore(verdicts), [
                    {**verdict_to_row(verdict), "key": key, "judge": judge, "response_key": response_key,
                     "created_at": now}
                    for key, judge, response_key, verdict in new_verdicts])
            if finished:
                conn.execute(self._upsert_attempts(), [_attempt_row(record, now) for record in finished])

    def _insert_ignore(self, table: Any) -> Any:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing(index_elements=[table.c.key])

    def _upsert_attempts(self) -> Any:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        statement = dialect.insert(attempts)
        replaced = {name: statement.excluded[name] for name in (
            "sent", "response_key", "decoded_response", "verdict_key", "status", "error", "updated_at",
            "conversation", "queries")}
        return statement.on_conflict_do_update(index_elements=[attempts.c.run_id, attempts.c.attempt_id],
                                               set_=replaced)

    # --- reading results --------------------------------------------------------------------------------

    def tally(self, run_id: str) -> list[TallyRow]:
        """Counts for the metrics, grouped in the database (fast for 100k+ attempts)."""
        columns = (attempts.c.attack, attempts.c.hazard, attempts.c.expect, attempts.c.status, verdicts.c.label,
                   verdicts.c.refusal, verdicts.c.unscored_reason, attempts.c.error, attempts.c.queries)
        query = (select(*columns, func.count().label("n"))
                 .select_from(attempts.outerjoin(verdicts, verdicts.c.key == attempts.c.verdict_key))
                 .where(attempts.c.run_id == run_id)
                 .group_by(*columns))
        with self._engine.connect() as conn:
            return [TallyRow(attack=row[0], hazard=row[1], expect=row[2], status=row[3], label=row[4], refusal=row[5],
                             unscored_reason=row[6], error=row[7], queries=row[8], count=row[9])
                    for row in conn.execute(query)]

    def best_of_n(self, run_id: str) -> list[tuple[str, int, int, int]]:
        """Per unsafe sample (hazard, attempts, unsafe attempts, scored attempts): whether any attack broke it."""
        unsafe = case((verdicts.c.label == VerdictLabel.UNSAFE.value, 1), else_=0)
        scored = case((and_(attempts.c.status == "done", verdicts.c.label != VerdictLabel.UNSCORED.value), 1),
                      else_=0)
        query = (select(attempts.c.hazard, func.count(), func.sum(unsafe), func.sum(scored))
                 .select_from(attempts.outerjoin(verdicts, verdicts.c.key == attempts.c.verdict_key))
                 .where(attempts.c.run_id == run_id, attempts.c.expect == "refuse")
                 .group_by(attempts.c.dataset, attempts.c.sample_id, attempts.c.hazard))
        with self._engine.connect() as conn:
            return [(row[0], int(row[1]), int(row[2] or 0), int(row[3] or 0)) for row in conn.execute(query)]

    def iter_attempts(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every attempt of a run joined with its response and verdict, one dict each."""
        query = (select(attempts, responses.c.text.label("response_text"), verdicts.c.label, verdicts.c.refusal,
                        verdicts.c.confidence, verdicts.c.explanation, verdicts.c.unscored_reason)
                 .select_from(attempts.outerjoin(responses, responses.c.key == attempts.c.response_key)
                              .outerjoin(verdicts, verdicts.c.key == attempts.c.verdict_key))
                 .where(attempts.c.run_id == run_id).order_by(attempts.c.sample_id, attempts.c.attack))
        with self._engine.connect() as conn:
            for row in conn.execution_options(stream_results=True).execute(query).mappings():
                yield dict(row)


def verdict_to_row(verdict: Verdict) -> dict[str, Any]:
    return {"label": verdict.label.value, "refusal": verdict.refusal.value if verdict.refusal else None,
            "confidence": verdict.confidence, "probability_unsafe": verdict.probability_unsafe,
            "categories": orjson.dumps(list(verdict.categories)).decode(), "explanation": verdict.explanation,
            "evidence": orjson.dumps(list(verdict.evidence)).decode(), "unscored_reason": verdict.unscored_reason,
            "raw_output": verdict.raw_output}


def verdict_from_row(row: Any) -> Verdict:
    return Verdict(label=VerdictLabel(row["label"]), refusal=RefusalState(row["refusal"]) if row["refusal"] else None,
                   confidence=row["confidence"], probability_unsafe=row["probability_unsafe"],
                   categories=tuple(orjson.loads(row["categories"])), explanation=row["explanation"],
                   evidence=tuple(orjson.loads(row["evidence"])), unscored_reason=row["unscored_reason"],
                   raw_output=row["raw_output"])


def _attempt_row(record: AttemptRecord, now: str) -> dict[str, Any]:
    return {"run_id": record.run_id, "attempt_id": record.attempt_id, "sample_id": record.sample_id,
            "dataset": record.dataset, "hazard": record.hazard, "expect": record.expect,
            "language": record.language, "attack": record.attack, "attack_seed": record.attack_seed,
            "sample": record.sample_json, "sent": record.sent_json, "response_key": record.response_key,
            "decoded_response": record.decoded_response, "verdict_key": record.verdict_key,
            "status": "error" if record.error else "done", "error": record.error, "updated_at": now,
            "conversation": record.conversation_json, "queries": record.queries}


def _run_row(row: Any) -> RunRow:
    return RunRow(run_id=row["run_id"], created_at=row["created_at"], updated_at=row["updated_at"],
                  status=row["status"], spec=orjson.loads(row["spec"]), target=row["target"],
                  dataset=row["dataset"], judge=row["judge"], planned=row["planned"], note=row["note"],
                  judge_key=row["judge_key"])


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        yield keys[start:start + _LOOKUP_CHUNK]
