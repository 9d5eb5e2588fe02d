"""Store tables. Migrations are an append-only list: never edit a released one, add the next."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, Table, Text

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("run_id", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("status", Text, nullable=False),  # running | complete | incomplete
    Column("spec", Text, nullable=False),  # RunSpec as JSON
    Column("target", Text, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("judge", Text, nullable=False),
    Column("planned", Integer),
    Column("version", Text, nullable=False),
    Column("note", Text),
    Column("judge_key", Text),  # content hash of the judge spec (migration 2); matches judge_validations
)

responses = Table(
    "responses", metadata,
    Column("key", Text, primary_key=True),  # content hash of (target spec, messages, generation params)
    Column("target", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("finish_reason", Text),
    Column("latency_ms", Float),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("created_at", Text, nullable=False),
)

verdicts = Table(
    "verdicts", metadata,
    Column("key", Text, primary_key=True),  # content hash of (judge spec, sample, sent messages, response)
    Column("judge", Text, nullable=False),
    Column("response_key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("refusal", Text),
    Column("confidence", Float),
    Column("probability_unsafe", Float),
    Column("categories", Text, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("unscored_reason", Text),
    Column("raw_output", Text),
    Column("created_at", Text, nullable=False),
)

attempts = Table(
    "attempts", metadata,
    Column("run_id", Text, primary_key=True),
    Column("attempt_id", Text, primary_key=True),
    Column("sample_id", Text, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("hazard", Text, nullable=False),
    Column("expect", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("attack", Text, nullable=False),
    Column("attack_seed", BigInteger, nullable=False),
    Column("sample", Text, nullable=False),  # the Sample as JSON
    Column("sent", Text, nullable=False),  # messages actually sent, JSON
    Column("response_key", Text),
    Column("decoded_response", Text),  # only when the attack decoded the reply
    Column("verdict_key", Text),
    Column("status", Text, nullable=False),  # done | error
    Column("error", Text),
    Column("updated_at", Text, nullable=False),
    Column("conversation", Text),  # multi-turn attacks: the whole transcript as JSON (migration 4)
    Column("queries", Integer),  # multi-turn attacks: target queries the attempt used (migration 4)
)

run_attacks = Table(
    "run_attacks", metadata,
    Column("run_id", Text, primary_key=True),
    Column("attack", Text, primary_key=True),  # the attack's spec name, as in attempts.attack
    Column("spec", Text, nullable=False),  # the full resolved spec as JSON: options, attacker model, prompt version
)

judge_validations = Table(
    "judge_validations", metadata,
    Column("validation_id", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("judge", Text, nullable=False),
    Column("judge_key", Text, nullable=False),
    Column("labels", Text, nullable=False),  # the labelled set's name
    Column("positive", Text, nullable=False),  # what "positive" means, e.g. "response gave content"
    Column("tp", Integer, nullable=False),
    Column("fp", Integer, nullable=False),
    Column("fn", Integer, nullable=False),
    Column("tn", Integer, nullable=False),
    Column("unscored", Integer, nullable=False),
    Column("report", Text, nullable=False),  # the full evaluation as JSON
)

# Each migration is a list of SQL statements valid on SQLite and PostgreSQL.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL,
            spec TEXT NOT NULL, target TEXT NOT NULL, dataset TEXT NOT NULL, judge TEXT NOT NULL,
            planned INTEGER, version TEXT NOT NULL, note TEXT)""",
        """CREATE TABLE responses (
            key TEXT PRIMARY KEY, target TEXT NOT NULL, text TEXT NOT NULL, finish_reason TEXT,
            latency_ms DOUBLE PRECISION, prompt_tokens INTEGER, completion_tokens INTEGER, created_at TEXT NOT NULL)""",
        """CREATE TABLE verdicts (
            key TEXT PRIMARY KEY, judge TEXT NOT NULL, response_key TEXT NOT NULL, label TEXT NOT NULL,
            refusal TEXT, confidence DOUBLE PRECISION, probability_unsafe DOUBLE PRECISION,
            categories TEXT NOT NULL, explanation TEXT NOT NULL, evidence TEXT NOT NULL,
            unscored_reason TEXT, raw_output TEXT, created_at TEXT NOT NULL)""",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL, attempt_id TEXT NOT NULL, sample_id TEXT NOT NULL, dataset TEXT NOT NULL,
            hazard TEXT NOT NULL, expect TEXT NOT NULL, language TEXT NOT NULL, attack TEXT NOT NULL,
            attack_seed BIGINT NOT NULL, sample TEXT NOT NULL, sent TEXT NOT NULL, response_key TEXT,
            decoded_response TEXT, verdict_key TEXT, status TEXT NOT NULL, error TEXT, updated_at TEXT NOT NULL,
            PRIMARY KEY (run_id, attempt_id))""",
        "CREATE INDEX attempts_by_response ON attempts (response_key)",
        "CREATE INDEX verdicts_by_response ON verdicts (response_key)",
    ],
    [
        "ALTER TABLE runs ADD COLUMN judge_key TEXT",
        """CREATE TABLE judge_validations (
            validation_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, judge TEXT NOT NULL, judge_key TEXT NOT NULL,
            labels TEXT NOT NULL, positive TEXT NOT NULL, tp INTEGER NOT NULL, fp INTEGER NOT NULL,
            fn INTEGER NOT NULL, tn INTEGER NOT NULL, unscored INTEGER NOT NULL, report TEXT NOT NULL)""",
        "CREATE INDEX judge_validations_by_key ON judge_validations (judge_key, created_at)",
    ],
    [
        # No query uses these, and every insert paid for them with random page writes (benchmarks/RESULTS.md).
        "DROP INDEX IF EXISTS attempts_by_response",
        "DROP INDEX IF EXISTS verdicts_by_response",
    ],
    [
        # Multi-turn attacks (PAIR, TAP, Crescendo): the whole conversation and the target queries it used.
        "ALTER TABLE attempts ADD COLUMN conversation TEXT",
        "ALTER TABLE attempts ADD COLUMN queries INTEGER",
        # Each attack's full resolved spec (options, attacker model and its settings), once per run.
        """CREATE TABLE run_attacks (
            run_id TEXT NOT NULL, attack TEXT NOT NULL, spec TEXT NOT NULL, PRIMARY KEY (run_id, attack))""",
    ],
]
