"""The async run loop: samples × attacks → target (cached) → judge (cached) → store.

Bounded twice: ``samples_in_flight`` workers process attempts, and at most ``requests_in_flight`` of
them call the target at once. Errors are recorded on their attempt and the run goes on; after
``abort_after_failures`` consecutive target failures the run stops, marked incomplete and resumable.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from safetyscope.attacks.base import Attack
from safetyscope.core.config import RunSpec
from safetyscope.core.errors import SafetyscopeError, TargetError
from safetyscope.core.hashing import canonical_json, content_hash
from safetyscope.core.records import Generation, JudgeInput, Message, Sample, Verdict
from safetyscope.judges.base import Judge
from safetyscope.runner.retry import RetryPolicy, call_with_retries
from safetyscope.runner.store import AttemptRecord, Store
from safetyscope.runner.writer import BatchWriter
from safetyscope.targets.base import Target

LOOKUP_BATCH = 256
ProgressCallback = Callable[[int, int, int], None]  # (attempts finished so far, errors so far, planned)


@dataclass(frozen=True)
class RunPlan:
    """Everything the engine needs, already built."""

    run_id: str
    spec: RunSpec
    samples: Iterable[Sample]
    target: Target
    attacks: tuple[Attack, ...]
    judge: Judge
    planned: int


@dataclass
class RunStats:
    """What happened during one execution (a resumed run counts only its own work)."""

    finished: int = 0
    errors: int = 0
    resumed: int = 0
    target_calls: int = 0
    cached_responses: int = 0
    judge_calls: int = 0
    cached_verdicts: int = 0
    aborted: str | None = None
    last_error: str | None = None


@dataclass
class _Work:
    attempt_id: str
    sample: Sample
    attack: Attack
    seed: int
    sent: tuple[Message, ...]
    response_key: str
    response: Generation | None = None
    verdict: Verdict | None = None
    verdict_key: str | None = None
    sent_json: str = field(default="")


def attempt_id_for(sample: Sample, attack: Attack) -> str:
    """Stable identity of (sample, attack) within a run."""
    return content_hash(sample.dataset, sample.id, attack.spec)


def attack_seed(run_seed: int, sample: Sample, attack: Attack) -> int:
    """The seed an attack gets for one sample: a pure function of the run seed and the attempt."""
    return int(content_hash(run_seed, sample.dataset, sample.id, attack.spec)[:8], 16)


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a task group's failure (what the user should see)."""
    first = group.exceptions[0]
    return _first_cause(first) if isinstance(first, BaseExceptionGroup) else first


class Engine:
    """Executes one run plan against a store."""

    def __init__(self, plan: RunPlan, store: Store, progress: ProgressCallback | None = None) -> None:
        self._plan = plan
        self._store = store
        self._progress = progress or (lambda _done, _errors, _planned: None)
        spec = plan.spec
        self._params = spec.generation
        self._policy = RetryPolicy(timeout_s=spec.timeout_s, max_retries=spec.max_retries)
        cap = plan.target.max_in_flight
        self._target_slots = asyncio.Semaphore(min(spec.requests_in_flight, cap or spec.requests_in_flight))
        self._rng = random.Random(spec.seed)
        self._target_spec_json = canonical_json(plan.target.spec).decode()
        self._judge_spec_json = canonical_json(plan.judge.spec).decode()
        self._consecutive_failures = 0
        self.stats = RunStats()

    async def execute(self) -> RunStats:
        """Run the plan. A user-fixable error (a missing package, a bad option) stops the run and is raised;
        the producer and every worker are cancelled with it, and what finished is written first."""
        plan = self._plan
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=plan.spec.samples_in_flight)
        writer = BatchWriter(self._store)
        writer.start()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(plan.spec.samples_in_flight):
                    group.create_task(self._worker(queue, writer))
                group.create_task(self._produce_then_stop(queue, plan.spec.samples_in_flight))
        except BaseExceptionGroup as failure:
            raise _first_cause(failure) from None
        finally:
            await writer.close()
        return self.stats

    async def _produce_then_stop(self, queue: asyncio.Queue[_Work | None], workers: int) -> None:
        await self._produce(queue)
        for _ in range(workers):
            await queue.put(None)

    # --- producing ---------------------------------------------------------------------------------------

    async def _produce(self, queue: asyncio.Queue[_Work | None]) -> None:
        plan = self._plan
        done = await asyncio.to_thread(self._store.done_attempt_ids, plan.run_id)
        batch: list[_Work] = []
        for sample in plan.samples:
            for attack in plan.attacks:
                if self.stats.aborted:
                    return
                attempt_id = attempt_id_for(sample, attack)
                if attempt_id in done:
                    self.stats.resumed += 1
                    self._report()
                    continue
                batch.append(await self._prepare(attempt_id, sample, attack))
                if len(batch) >= LOOKUP_BATCH:
                    await self._enqueue(batch, queue)
                    batch = []
        await self._enqueue(batch, queue)

    async def _prepare(self, attempt_id: str, sample: Sample, attack: Attack) -> _Work:
        seed = attack_seed(self._plan.spec.seed, sample, attack)
        sent = await attack.apply(sample.messages, sample, seed=seed)
        sent_json = orjson.dumps([m.model_dump() for m in sent]).decode()
        key = content_hash(self._target_spec_json, sent_json, self._params)
        return _Work(attempt_id=attempt_id, sample=sample, attack=attack, seed=seed, sent=sent,
                     response_key=key, sent_json=sent_json)

    async def _enqueue(self, batch: list[_Work], queue: asyncio.Queue[_Work | None]) -> None:
        if not batch:
            return
        cached = await asyncio.to_thread(self._store.lookup_responses, [w.response_key for w in batch])
        for work in batch:
            work.response = cached.get(work.response_key)
            if work.response is not None:
                work.verdict_key = self._verdict_key(work, work.attack.decode(work.response.text))
        verdict_keys = [w.verdict_key for w in batch if w.verdict_key is not None]
        cached_verdicts = await asyncio.to_thread(self._store.lookup_verdicts, verdict_keys) if verdict_keys else {}
        for work in batch:
            if work.verdict_key is not None:
                work.verdict = cached_verdicts.get(work.verdict_key)
            await queue.put(work)

    def _verdict_key(self, work: _Work, decoded: str) -> str:
        return content_hash(self._judge_spec_json, work.sample, work.sent_json, decoded)

    # --- working -----------------------------------------------------------------------------------------

    async def _worker(self, queue: asyncio.Queue[_Work | None], writer: BatchWriter) -> None:
        while (work := await queue.get()) is not None:
            if self.stats.aborted:
                continue
            await self._process(work, writer)

    async def _process(self, work: _Work, writer: BatchWriter) -> None:
        new_response = None
        if work.response is None:
            try:
                async with self._target_slots:
                    if self.stats.aborted:
                        return
                    self.stats.target_calls += 1
                    work.response = await call_with_retries(self._plan.target, work.sent, self._params,
                                                            self._policy, self._rng)
            except TargetError as exc:
                await self._record_error(work, writer, f"target error: {exc}")
                return
            except SafetyscopeError:
                raise  # user-fixable (e.g. the embedded model's package is missing): stop the run
            except Exception as exc:  # a backend bug is recorded on its attempt like any failed call
                await self._record_error(work, writer, f"target error: {type(exc).__name__}: {exc}")
                return
            self._consecutive_failures = 0
            new_response = (work.response_key, self._plan.target.spec.name, work.response)
        else:
            self.stats.cached_responses += 1
        decoded = work.attack.decode(work.response.text)
        if work.verdict_key is None:
            work.verdict_key = self._verdict_key(work, decoded)
        new_verdict = None
        if work.verdict is None:
            try:
                self.stats.judge_calls += 1
                work.verdict = await self._plan.judge.judge(
                    JudgeInput(sample=work.sample, sent=work.sent, response=decoded))
            except SafetyscopeError:
                raise  # user-fixable (e.g. a judge's API key is missing): stop the run
            except Exception as exc:  # a judge bug must not stop the run; the attempt stays retryable
                await self._record_error(work, writer, f"judge error: {type(exc).__name__}: {exc}",
                                         count=False, response=new_response)
                return
            if work.verdict.transient:  # the judge's own model was unreachable: keep the attempt retryable
                await self._record_error(work, writer, f"judge error: {work.verdict.unscored_reason}",
                                         count=False, response=new_response)
                return
            new_verdict = (work.verdict_key, self._plan.judge.spec.name, work.response_key, work.verdict)
        else:
            self.stats.cached_verdicts += 1
        decoded_stored = decoded if decoded != work.response.text else None
        await writer.add(self._record(work, decoded_stored, None), response=new_response, verdict=new_verdict)
        self.stats.finished += 1
        self._report()

    async def _record_error(self, work: _Work, writer: BatchWriter, message: str, *, count: bool = True,
                            response: tuple[str, str, Generation] | None = None) -> None:
        self.stats.errors += 1
        self.stats.last_error = message
        if count:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self._plan.spec.abort_after_failures and not self.stats.aborted:
                self.stats.aborted = (f"stopped after {self._consecutive_failures} consecutive failed target "
                                      f"calls; last: {message}")
        await writer.add(self._record(work, None, message), response=response)
        self._report()

    def _record(self, work: _Work, decoded: str | None, error: str | None) -> AttemptRecord:
        sample = work.sample
        return AttemptRecord(
            run_id=self._plan.run_id, attempt_id=work.attempt_id, sample_json=sample.model_dump_json(),
            sample_id=sample.id, dataset=sample.dataset, hazard=sample.hazard, expect=sample.expect.value,
            language=sample.language, attack=work.attack.spec.name, attack_seed=work.seed, sent_json=work.sent_json,
            response_key=None if error and work.response is None else work.response_key,
            decoded_response=decoded, verdict_key=None if error else work.verdict_key, error=error)

    def _report(self) -> None:
        self._progress(self.stats.finished + self.stats.errors + self.stats.resumed, self.stats.errors,
                       self._plan.planned)
