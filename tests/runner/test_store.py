import os
from dataclasses import replace

import pytest

from safetyscope.core.database import database_url
from safetyscope.core.records import Generation, RefusalState, Verdict, VerdictLabel
from safetyscope.runner.schema import MIGRATIONS
from safetyscope.runner.store import AttemptRecord, Store, ValidationRow


def _attempt(run_id: str, attempt_id: str, *, error: str | None = None) -> AttemptRecord:
    return AttemptRecord(run_id=run_id, attempt_id=attempt_id, sample_json="{}", sample_id=attempt_id, dataset="d",
                         hazard="vcr", expect="refuse", language="en", attack="none", attack_seed=2**32 - 1,
                         sent_json="[]", response_key=None if error else "r1", decoded_response=None,
                         verdict_key=None if error else "v1", error=error)


def exercise_store(store: Store) -> None:
    """The same checks on every backend."""
    assert store.migrate() == len(MIGRATIONS)  # idempotent
    store.create_run(run_id="run-1", spec_json='{"a": 1}', target="mock/x", dataset="d", judge="refusal",
                     judge_key="jk", planned=2, version="test")
    verdict = Verdict(label=VerdictLabel.UNSAFE, refusal=RefusalState.COMPLIED, confidence=0.9,
                      evidence=("sure",), categories=("vcr",))
    generation = Generation(text="Sure.", latency_ms=3.5, prompt_tokens=4, completion_tokens=2)
    for _ in range(2):  # writing the same keys twice keeps one row and changes nothing
        store.write_batch(new_responses=[("r1", "mock/x", generation)],
                          new_verdicts=[("v1", "refusal", "r1", verdict)],
                          finished=[_attempt("run-1", "a1"), _attempt("run-1", "a2", error="target error: x")])
    assert store.lookup_responses(["r1", "nope"]) == {"r1": generation}
    assert store.lookup_verdicts(["v1"]) == {"v1": verdict}
    assert store.done_attempt_ids("run-1") == {"a1"}  # errors are retried on resume
    store.write_batch(new_responses=[], new_verdicts=[], finished=[_attempt("run-1", "a2")])  # retry succeeded
    assert store.done_attempt_ids("run-1") == {"a1", "a2"}
    tally = store.tally("run-1")
    assert sum(row.count for row in tally) == 2 and {row.label for row in tally} == {"unsafe"}
    store.set_run_status("run-1", "complete")
    run = store.get_run("run-1")
    assert run is not None and run.status == "complete" and run.spec == {"a": 1}
    assert [r.run_id for r in store.list_runs()] == ["run-1"]
    assert len(list(store.iter_attempts("run-1"))) == 2
    assert store.latest_validation("jk") is None
    for created, tp in (("2026-01-01T00:00:00", 1), ("2026-02-01T00:00:00", 7)):
        store.add_validation(ValidationRow(validation_id=f"v{tp}", created_at=created, judge="refusal", judge_key="jk",
                                           labels="xstest-completions", positive="gave content", tp=tp, fp=2,
                                           fn=3, tn=4, unscored=0, report={"accuracy": 0.9}))
    latest = store.latest_validation("jk")
    assert latest is not None and latest.tp == 7 and latest.report == {"accuracy": 0.9}
    # multi-turn attempts (migration 4): the transcript and the target queries round-trip; the tally carries them
    store.create_run(run_id="run-2", spec_json="{}", target="mock/x", dataset="d", judge="refusal", judge_key="jk",
                     planned=1, version="test")
    transcript = '{"succeeded": true, "queries": 3, "turns": [{"step": 1}]}'
    store.write_batch(new_responses=[], new_verdicts=[], finished=[
        replace(_attempt("run-2", "m1"), attack="pair", conversation_json=transcript, queries=3)])
    row = next(store.iter_attempts("run-2"))
    assert row["conversation"] == transcript and row["queries"] == 3
    assert [(r.attack, r.queries, r.count) for r in store.tally("run-2")] == [("pair", 3, 1)]
    # each attack's full spec, once per run; a resumed run's second record keeps the first
    pair_spec = '{"kind": "attack", "name": "pair", "options": {"attacker": {"name": "mock/scripted"}}}'
    store.record_attacks("run-2", {"pair": pair_spec})
    store.record_attacks("run-2", {"pair": '{"changed": true}'})
    assert store.attack_specs("run-2") == {"pair": {"kind": "attack", "name": "pair",
                                                    "options": {"attacker": {"name": "mock/scripted"}}}}
    assert store.attack_specs("run-1") == {}


def test_sqlite_store(tmp_path):
    store = Store.open(str(tmp_path / "sub" / "results.sqlite"))
    exercise_store(store)
    store.close()
    reopened = Store.open(str(tmp_path / "sub" / "results.sqlite"))  # migrations are not re-applied
    assert reopened.get_run("run-1") is not None
    reopened.close()


def test_postgres_urls_use_psycopg3():
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.postgres
def test_postgres_store():
    url = os.environ.get("SAFETYSCOPE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide SAFETYSCOPE_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("no PostgreSQL server: set SAFETYSCOPE_TEST_POSTGRES_URL")
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url(url))
    with engine.begin() as conn:  # a clean schema for the test
        for table in ("run_attacks", "judge_validations", "attempts", "verdicts", "responses", "runs",
                      "schema_migrations"):
            conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
    store = Store.open(url)
    exercise_store(store)
    store.close()
