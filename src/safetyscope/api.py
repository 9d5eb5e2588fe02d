"""The Python API. The CLI is a thin layer over ``evaluate``.

>>> import safetyscope
>>> result = safetyscope.evaluate(target="mock/refuser", dataset="starter", limit=20)
>>> result.scorecard.attack_success[("overall", "overall")].value
0.0
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from safetyscope.attacks import create_attack
from safetyscope.attacks.base import expand_attack_specs
from safetyscope.core.config import RunSpec, resolve_spec
from safetyscope.core.errors import UsageError
from safetyscope.core.hashing import content_hash
from safetyscope.datasets import count_strata, open_dataset, planned_count
from safetyscope.judges import create_judge
from safetyscope.judges.validation import POSITIVE_MEANING
from safetyscope.metrics.correction import JudgeValidation
from safetyscope.metrics.scorecard import Scorecard, build_scorecard
from safetyscope.report.summary import SummaryPaths, write_summaries
from safetyscope.runner.engine import Engine, ProgressCallback, RunPlan, RunStats
from safetyscope.runner.store import RunRow, Store
from safetyscope.targets import create_target

LATEST = "latest"  # --resume latest: the most recent run that did not complete

# Fields that may change when resuming a run: how hard to work, not what to evaluate.
RESUMABLE_OVERRIDES = frozenset({"requests_in_flight", "samples_in_flight", "timeout_s", "max_retries",
                                 "abort_after_failures", "store", "output_dir"})


@dataclass(frozen=True)
class RunResult:
    """What ``evaluate`` returns."""

    run: RunRow
    scorecard: Scorecard
    stats: RunStats
    summary: SummaryPaths
    store_url: str


def package_version() -> str:
    try:
        return version("safetyscope")
    except PackageNotFoundError:
        return "0+unknown"


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def evaluate(spec: RunSpec | None = None, *, resume: str | None = None, progress: ProgressCallback | None = None,
             **overrides: Any) -> RunResult:
    """Run an evaluation and return its scorecard. Works inside a running event loop (notebooks) too."""
    coroutine_args = {"spec": spec, "resume": resume, "progress": progress, **overrides}
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(evaluate_async(**coroutine_args))
    result: list[RunResult] = []
    failure: list[BaseException] = []

    def run_in_thread() -> None:
        try:
            result.append(asyncio.run(evaluate_async(**coroutine_args)))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run_in_thread)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def evaluate_async(spec: RunSpec | None = None, *, resume: str | None = None,
                         progress: ProgressCallback | None = None, **overrides: Any) -> RunResult:
    """``evaluate`` for callers that already run an event loop."""
    spec = spec or resolve_spec(overrides=overrides)
    store = Store.open(spec.store_location())
    try:
        if resume is not None:
            run_id, spec = _resumed_spec(store, resume, spec, overrides)
        else:
            run_id = new_run_id()
        return await _execute(spec, store, run_id, resuming=resume is not None, progress=progress)
    finally:
        store.close()


def _resumed_spec(store: Store, run_id: str, given: RunSpec, overrides: dict[str, Any]) -> tuple[str, RunSpec]:
    if run_id == LATEST:
        unfinished = [run for run in store.list_runs() if run.status != "complete"]
        if not unfinished:
            raise UsageError(f"no unfinished run to resume in store {store.url}")
        run_id = unfinished[-1].run_id
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"no run '{run_id}' in store {store.url}")
    ignored = sorted(key for key, value in overrides.items() if value is not None and key not in RESUMABLE_OVERRIDES)
    if ignored:
        raise UsageError(f"--resume continues run {run_id} with its stored spec; "
                         f"these cannot change: {', '.join(ignored)}")
    stored = dict(run.spec)
    stored.update({key: getattr(given, key) for key in RESUMABLE_OVERRIDES if key in overrides
                   and overrides[key] is not None})
    return run_id, RunSpec.model_validate(stored)


async def _execute(spec: RunSpec, store: Store, run_id: str, *, resuming: bool,
                   progress: ProgressCallback | None) -> RunResult:
    dataset = open_dataset(spec.dataset)
    counts = count_strata(dataset, dataset.stratum)  # validates every row: a bad file fails here, before any write
    attacks = tuple(create_attack(name, spec.attack_options.get(name)) for name in expand_attack_specs(spec.attacks))
    judge = create_judge(spec.judge, spec.judge_options)
    target = create_target(spec.target, spec.resolved_target_options())
    planned = planned_count(counts, limit=spec.limit, per_hazard=spec.per_hazard) * len(attacks)
    try:
        if not resuming:
            store.create_run(run_id=run_id, spec_json=spec.model_dump_json(), target=spec.target,
                             dataset=spec.dataset, judge=spec.judge, judge_key=content_hash(judge.spec),
                             planned=planned, version=package_version())
        else:
            store.set_run_status(run_id, "running")
        plan = RunPlan(run_id=run_id, spec=spec, samples=dataset.select(limit=spec.limit, seed=spec.seed,
                                                                         per_hazard=spec.per_hazard),
                       target=target, attacks=attacks, judge=judge, planned=planned)
        engine = Engine(plan, store, progress)
        try:
            stats = await engine.execute()
        except BaseException:
            store.set_run_status(run_id, "incomplete", "interrupted; resume with --resume " + run_id)
            raise
    finally:
        await target.aclose()
        close_judge = getattr(judge, "aclose", None)  # model judges hold a model or an HTTP session
        if close_judge is not None:
            await close_judge()
    status, note = _final_status(stats)
    store.set_run_status(run_id, status, note)
    run = store.get_run(run_id)
    assert run is not None
    card = scorecard_for(store, run)
    summary = write_summaries(run, card, store.url, Path(spec.output_dir))
    return RunResult(run=run, scorecard=card, stats=stats, summary=summary, store_url=store.url)


def scorecard_for(store: Store, run: RunRow) -> Scorecard:
    """A stored run's scorecard, corrected for judge error when this exact judge has a stored validation."""
    card = build_scorecard(store.tally(run.run_id))
    if len(card.attacks) > 1:
        card.add_best_of_n(store.best_of_n(run.run_id))
    validation = (store.latest_validation(run.judge_key, positive=POSITIVE_MEANING)  # response-side labels only
                  if run.judge_key else None)
    if validation is not None:
        card.correct_for(JudgeValidation(se_hits=validation.tp, n_se=validation.tp + validation.fn,
                                         sp_hits=validation.tn, n_sp=validation.tn + validation.fp),
                         source=f"{validation.judge} on {validation.labels} ({validation.created_at})")
    return card


def _final_status(stats: RunStats) -> tuple[str, str | None]:
    if stats.aborted:
        return "incomplete", stats.aborted
    if stats.errors:
        return "incomplete", f"{stats.errors} attempts failed (last: {stats.last_error}); --resume retries them"
    return "complete", None
