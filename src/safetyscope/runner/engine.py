"""The async run loop: samples × attacks → target (cached) → judge (cached) → store.

Bounded twice: ``samples_in_flight`` workers process attempts, and at most ``requests_in_flight`` of
them call the target at once. Errors are recorded on their attempt and the run goes on; after
``abort_after_failures`` consecutive target failures the run stops, marked incomplete and resumable.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import orjson

from safetyscope.attacks.base import Attack, close_all, decode_reply, is_deterministic
from safetyscope.attacks.multiturn import (
    MultiTurnAttack,
    MultiTurnContext,
    SucceededBeforeFailure,
    is_multiturn,
    transcript_json,
)
from safetyscope.core.config import RunSpec
from safetyscope.core.errors import AttackError, SafetyscopeError, TargetError
from safetyscope.core.hashing import canonical_json, content_hash
from safetyscope.core.records import Generation, JudgeInput, Message, Sample, Verdict
from safetyscope.judges.base import Judge
from safetyscope.runner.concurrency import bounded, first_cause
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
    attack_errors: int = 0  # also counted in ``errors``; never toward abort_after_failures
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
    sent: tuple[Message, ...] = ()
    response_key: str = ""
    response: Generation | None = None
    verdict: Verdict | None = None
    verdict_key: str | None = None
    decoded: str | None = None
    sent_json: str = field(default="[]")
    attack_error: str | None = None  # apply (or decoding a cached reply) failed: recorded, not sent
    transcript_json: str | None = None  # multi-turn attacks: the whole conversation (also when it failed)
    queries: int | None = None  # multi-turn attacks: target queries used


class _JudgeFailed(Exception):
    """A judge call failed or its model was unreachable: the attempt is recorded as a judge error (retryable)."""


class _Stopped(Exception):
    """The run was stopped (too many failures) while this attempt waited for the target: it is left pending."""


def attempt_id_for(sample: Sample, attack: Attack) -> str:
    """Stable identity of (sample, attack) within a run."""
    return content_hash(sample.dataset, sample.id, attack.spec)


def attack_seed(run_seed: int, sample: Sample, attack: Attack) -> int:
    """The seed an attack gets for one sample: a pure function of the run seed and the attempt."""
    return int(content_hash(run_seed, sample.dataset, sample.id, attack.spec)[:8], 16)


def _applies_fast(attack: Attack) -> bool:
    """Model-free attacks (and multi-turn ones, which do not apply in the producer): big lookup batches are fine."""
    return is_multiturn(attack) or all(part == "none" or is_deterministic(part)
                                       for part in attack.spec.name.split("+"))


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
        self._fast = all(_applies_fast(attack) for attack in plan.attacks)

    async def execute(self) -> RunStats:
        """Run the plan. A user-fixable error (a missing package, a bad option) stops the run and is raised;
        the producer and every worker are cancelled with it, and what finished is written first. Attacks that
        hold a model (``aclose``) are closed at the end."""
        plan = self._plan
        await asyncio.to_thread(self._store.record_attacks, plan.run_id,
                                {attack.spec.name: canonical_json(attack.spec).decode() for attack in plan.attacks})
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=plan.spec.samples_in_flight)
        writer = BatchWriter(self._store)
        writer.start()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(plan.spec.samples_in_flight):
                    group.create_task(self._worker(queue, writer))
                group.create_task(self._produce_then_stop(queue, plan.spec.samples_in_flight))
        except BaseExceptionGroup as failure:
            raise first_cause(failure) from None
        finally:
            try:
                await writer.close()
            finally:
                await close_all(plan.attacks)
        return self.stats

    async def _produce_then_stop(self, queue: asyncio.Queue[_Work | None], workers: int) -> None:
        await self._produce(queue)
        for _ in range(workers):
            await queue.put(None)

    # --- producing ---------------------------------------------------------------------------------------

    async def _produce(self, queue: asyncio.Queue[_Work | None]) -> None:
        """Attempts in a fixed order. Attacks are applied a batch at a time, concurrently (a model-driven apply
        can take seconds): model-free batches hold ``LOOKUP_BATCH`` attempts, others ``samples_in_flight``."""
        plan = self._plan
        done = await asyncio.to_thread(self._store.done_attempt_ids, plan.run_id)
        batch_size = LOOKUP_BATCH if self._fast else max(1, min(LOOKUP_BATCH, plan.spec.samples_in_flight))
        pending: list[_Work] = []
        for sample in plan.samples:
            for attack in plan.attacks:
                if self.stats.aborted:
                    return
                attempt_id = attempt_id_for(sample, attack)
                if attempt_id in done:
                    self.stats.resumed += 1
                    self._report()
                    continue
                pending.append(_Work(attempt_id=attempt_id, sample=sample, attack=attack,
                                     seed=attack_seed(plan.spec.seed, sample, attack)))
                if len(pending) >= batch_size:
                    await self._enqueue(pending, queue)
                    pending = []
        await self._enqueue(pending, queue)

    async def _prepare(self, work: _Work) -> None:
        """The messages to send and the response key; an AttackError is kept on the work, to be recorded."""
        if is_multiturn(work.attack):
            return  # the worker runs the conversation
        try:
            work.sent = await work.attack.apply(work.sample.messages, work.sample, seed=work.seed)
        except AttackError as exc:
            work.attack_error = f"attack error: {exc}"
            return
        work.sent_json = _messages_json(work.sent)
        work.response_key = self._response_key(work.sent_json)

    def _response_key(self, sent_json: str) -> str:
        return content_hash(self._target_spec_json, sent_json, self._params)

    async def _enqueue(self, batch: list[_Work], queue: asyncio.Queue[_Work | None]) -> None:
        if not batch:
            return
        await self._each(self._prepare, batch)
        ready = [w for w in batch if w.response_key and w.attack_error is None]
        cached = await asyncio.to_thread(self._store.lookup_responses, [w.response_key for w in ready])
        hits = [w for w in ready if w.response_key in cached]
        for work in hits:
            work.response = cached[work.response_key]
        await self._each(self._decode, hits)
        verdict_keys = [w.verdict_key for w in batch if w.verdict_key is not None]
        cached_verdicts = await asyncio.to_thread(self._store.lookup_verdicts, verdict_keys) if verdict_keys else {}
        for work in batch:
            if work.verdict_key is not None:
                work.verdict = cached_verdicts.get(work.verdict_key)
            await queue.put(work)

    async def _each(self, step: Callable[[_Work], Awaitable[None]], works: list[_Work]) -> None:
        """``step`` on every work: one after another for model-free attacks (no task overhead), else concurrently,
        at most ``samples_in_flight`` at once."""
        if self._fast:
            for work in works:
                await step(work)
        else:
            await bounded([partial(step, work) for work in works], self._plan.spec.samples_in_flight)

    async def _decode(self, work: _Work) -> None:
        """The reply in plain language (an attack may need a model for it) and the verdict key."""
        assert work.response is not None
        try:
            work.decoded = await decode_reply(work.attack, work.response.text)
        except AttackError as exc:
            work.attack_error = f"attack error: {exc}"
            return
        work.verdict_key = self._verdict_key(work, work.decoded)

    def _verdict_key(self, work: _Work, decoded: str) -> str:
        return content_hash(self._judge_spec_json, work.sample, work.sent_json, decoded)

    # --- working -----------------------------------------------------------------------------------------

    async def _worker(self, queue: asyncio.Queue[_Work | None], writer: BatchWriter) -> None:
        while (work := await queue.get()) is not None:
            if self.stats.aborted:
                continue
            await self._process(work, writer)

    async def _call_target(self, sent: Sequence[Message]) -> Generation:
        """One target call under the run's bound and retry policy (counted in the stats)."""
        async with self._target_slots:
            if self.stats.aborted:
                raise _Stopped
            self.stats.target_calls += 1
            generation = await call_with_retries(self._plan.target, sent, self._params, self._policy, self._rng)
        self._consecutive_failures = 0
        return generation

    async def _process(self, work: _Work, writer: BatchWriter) -> None:
        if work.attack_error is not None:
            await self._record_error(work, writer, work.attack_error, attack=True)
            return
        new_response = None
        if is_multiturn(work.attack):
            memo: dict[str, Verdict] = {}
            try:
                await self._converse(work, memo)
            except _Stopped:
                return
            except AttackError as exc:
                await self._record_error(work, writer, f"attack error: {exc}", attack=True)
                return
            except TargetError as exc:
                await self._record_error(work, writer, f"target error: {exc}")
                return
            except _JudgeFailed as exc:
                await self._record_error(work, writer, f"judge error: {exc}", count=False)
                return
            except SafetyscopeError:
                raise  # user-fixable (e.g. the attacker model's package is missing): stop the run
            except Exception as exc:  # a bug in the attack is recorded on its attempt, never as a refusal
                await self._record_error(work, writer, f"attack error: {type(exc).__name__}: {exc}", attack=True)
                return
            assert work.response is not None
            new_response = (work.response_key, self._plan.target.spec.name, work.response)
            if not await self._decoded(work, writer, new_response):
                return
            work.verdict = memo.get(work.verdict_key or "")
            if work.verdict is not None:  # judged during the conversation: the same input, not judged again
                await self._finish(work, writer, new_response,
                                   (work.verdict_key or "", self._plan.judge.spec.name, work.response_key,
                                    work.verdict))
                return
        elif work.response is None:
            try:
                work.response = await self._call_target(work.sent)
            except _Stopped:
                return
            except TargetError as exc:
                await self._record_error(work, writer, f"target error: {exc}")
                return
            except SafetyscopeError:
                raise  # user-fixable (e.g. the embedded model's package is missing): stop the run
            except Exception as exc:  # a backend bug is recorded on its attempt like any failed call
                await self._record_error(work, writer, f"target error: {type(exc).__name__}: {exc}")
                return
            new_response = (work.response_key, self._plan.target.spec.name, work.response)
        else:
            self.stats.cached_responses += 1
        if not await self._decoded(work, writer, new_response):
            return
        new_verdict: tuple[str, str, str, Verdict] | None = None
        if work.verdict is None:
            try:
                work.verdict = await self._judge(work.sample, work.sent, work.decoded or "")
            except _JudgeFailed as exc:  # the attempt stays retryable; its response is kept
                await self._record_error(work, writer, f"judge error: {exc}", count=False, response=new_response)
                return
            new_verdict = (work.verdict_key or "", self._plan.judge.spec.name, work.response_key, work.verdict)
        else:
            self.stats.cached_verdicts += 1
        await self._finish(work, writer, new_response, new_verdict)

    async def _decoded(self, work: _Work, writer: BatchWriter,
                       new_response: tuple[str, str, Generation] | None) -> bool:
        """Decode the reply unless the producer did; an AttackError is recorded (the response is kept)."""
        if work.decoded is None:
            await self._decode(work)
        if work.attack_error is not None:
            await self._record_error(work, writer, work.attack_error, attack=True, response=new_response)
            return False
        return True

    async def _finish(self, work: _Work, writer: BatchWriter, new_response: tuple[str, str, Generation] | None,
                      new_verdict: tuple[str, str, str, Verdict] | None) -> None:
        assert work.response is not None
        decoded_stored = work.decoded if work.decoded != work.response.text else None
        await writer.add(self._record(work, decoded_stored, None), response=new_response, verdict=new_verdict)
        self.stats.finished += 1
        self._report()

    async def _judge(self, sample: Sample, sent: tuple[Message, ...], decoded: str) -> Verdict:
        """One judge call. A judge bug or an unreachable judge model raises _JudgeFailed (the attempt stays
        retryable); a user-fixable error stops the run."""
        self.stats.judge_calls += 1
        try:
            verdict = await self._plan.judge.judge(JudgeInput(sample=sample, sent=sent, response=decoded))
        except SafetyscopeError:
            raise  # user-fixable (e.g. a judge's API key is missing): stop the run
        except Exception as exc:  # a judge bug must not stop the run
            raise _JudgeFailed(f"{type(exc).__name__}: {exc}") from exc
        if verdict.transient:  # the judge's own model was unreachable
            raise _JudgeFailed(verdict.unscored_reason or "judge unavailable")
        return verdict

    async def _converse(self, work: _Work, memo: dict[str, Verdict]) -> None:
        """Let a multi-turn attack drive the conversation; its final messages and reply become the attempt.
        Per-turn verdicts are memoised by verdict key, so the final reply is not judged twice."""
        attack = work.attack
        assert isinstance(attack, MultiTurnAttack)

        async def call_target(sent: tuple[Message, ...]) -> Generation:
            try:
                return await self._call_target(sent)
            except (SafetyscopeError, _Stopped):
                raise
            except Exception as exc:  # a backend bug: a failed target call, like in single-turn attempts
                raise TargetError(f"{type(exc).__name__}: {exc}") from exc

        async def call_judge(sent: tuple[Message, ...], reply: str) -> Verdict:
            decoded = await decode_reply(attack, reply)
            key = content_hash(self._judge_spec_json, work.sample, _messages_json(sent), decoded)
            if key not in memo:
                memo[key] = await self._judge(work.sample, sent, decoded)
            return memo[key]

        context = MultiTurnContext(sample=work.sample, seed=work.seed, params=self._params, budget=attack.budget,
                                   call_target=call_target, call_judge=call_judge)
        try:
            try:
                conversation = await attack.converse(context)
            except SucceededBeforeFailure:  # a sibling branch failed after this conversation already succeeded
                conversation = context.transcript.conversation(context.used, attack.spec.name)
        finally:
            work.queries = context.used
            work.transcript_json = transcript_json(context.transcript.turns, succeeded=False, queries=context.used)
        work.transcript_json = conversation.transcript_json()
        work.sent = conversation.sent
        work.sent_json = _messages_json(conversation.sent)
        work.response_key = self._response_key(work.sent_json)
        work.response = conversation.response

    async def _record_error(self, work: _Work, writer: BatchWriter, message: str, *, count: bool = True,
                            attack: bool = False, response: tuple[str, str, Generation] | None = None) -> None:
        """Record a failed attempt (status error, retried on resume). Target failures count toward
        ``abort_after_failures``; attack and judge errors do not."""
        self.stats.errors += 1
        self.stats.last_error = message
        if attack:
            self.stats.attack_errors += 1
        elif count:
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
            response_key=work.response_key if work.response is not None else None,
            decoded_response=decoded, verdict_key=None if error else work.verdict_key, error=error,
            conversation_json=work.transcript_json,
            queries=work.queries)

    def _report(self) -> None:
        self._progress(self.stats.finished + self.stats.errors + self.stats.resumed, self.stats.errors,
                       self._plan.planned)


def _messages_json(messages: Sequence[Message]) -> str:
    return orjson.dumps([m.model_dump() for m in messages]).decode()
