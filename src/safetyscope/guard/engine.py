"""The guard engine: run a policy's experts concurrently, combine their votes with Hedge weights, apply the
policy (hazards, custom categories, threshold or conformal set, fail mode), store the decision, learn from
feedback.

Per request: every expert of the direction is asked at once, each under its own timeout. An expert that
times out, raises, or returns an unscored verdict is *skipped*: it does not vote, the weights are
renormalised over the experts that did, and the decision lists it in ``skipped`` (``degraded`` is true).
The ensemble score is ``s = Σ_i w_i p_i`` over voting experts, ``p_i`` the expert's P(unsafe) when it reports
one (and ``use_probabilities``), else 1 for an unsafe and 0 for a safe verdict. Then:

- with a conformal calibration in the policy, the prediction set ``{y : 1 − P̂(y) ≤ q}`` decides: one label →
  that label, both (or none) → ``review``;
- without, ``s ≥ threshold`` is unsafe;
- an unsafe label blocks unless every hazard named (canonical, or a custom category) is allowed; an unsafe
  label with no hazard named follows ``unlisted_action``;
- with no voting expert, ``fail_mode`` decides: closed → block, open → allow, review → review.

Feedback (the true label of a stored decision) charges each voting expert ``|p_i − y|`` and updates the
weights (``guard/hedge.py``); the new weights are stored with the label in one transaction.

Speed: a decision touches the database at most once, and usually not at all on its way back. The learned
weights are kept in memory, re-read after this engine's own feedback and otherwise at most every
``WEIGHTS_REFRESH_S`` (so labels given by the review CLI or another worker process are picked up); the
decision is queued for the store's background writer when it runs (the service starts it), else inserted in a
worker thread. :meth:`GuardEngine.start` builds the experts (loading their models) before the first request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safetyscope.core.database import utc_now
from safetyscope.core.errors import UsageError
from safetyscope.core.hashing import content_hash
from safetyscope.core.records import Expectation, JudgeInput, Message, Sample, Verdict, VerdictLabel
from safetyscope.guard.conformal import SAFE, UNSAFE, prediction_set
from safetyscope.guard.hedge import Hedge
from safetyscope.guard.policy import CUSTOM_CATEGORY_JUDGES, Direction, ExpertSpec, GuardPolicy
from safetyscope.guard.store import GuardStore, NewDecision
from safetyscope.judges.base import Judge, create_judge

Action = Literal["allow", "block", "review"]
_CUSTOM_CODE = re.compile(r"^(C\d+):")
WEIGHTS_REFRESH_S = 1.0
log = logging.getLogger("safetyscope.guard")


class ExpertVote(BaseModel):
    """One expert's part in a decision."""

    model_config = ConfigDict(frozen=True)

    expert: str
    judge: str
    status: Literal["ok", "unscored", "timeout", "error"]
    label: str | None = None
    score: float | None = Field(default=None, description="The P(unsafe) it voted with (None when skipped).")
    categories: tuple[str, ...] = ()
    custom_categories: tuple[str, ...] = ()
    weight: float = Field(default=0.0, description="Its normalised weight in this decision (0 when skipped).")
    latency_ms: float = 0.0
    detail: str = ""


class GuardDecision(BaseModel):
    """What the guard decided, and why."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    action: Action
    direction: Direction
    policy: str
    policy_version: str
    label: Literal["safe", "unsafe", "unknown"]
    score: float | None = Field(description="Weighted P̂(unsafe) of the voting experts.")
    prediction_set: tuple[str, ...] | None = Field(default=None, description="Conformal set, when calibrated.")
    categories: tuple[str, ...] = Field(default=(), description="Canonical hazards named by unsafe votes.")
    custom_categories: tuple[str, ...] = ()
    experts: tuple[ExpertVote, ...]
    weights: dict[str, float] = Field(description="Normalised weights of the voting experts.")
    skipped: tuple[str, ...] = Field(default=(), description="Experts that timed out, failed or were unscored.")
    degraded: bool = False
    reason: str
    latency_ms: float


class FeedbackResult(BaseModel):
    """The outcome of one feedback label."""

    decision_id: str
    label: Literal["safe", "unsafe"]
    losses: dict[str, float | None]
    weights: dict[str, float]
    rounds: int
    regret: float
    regret_bound: float


class UnknownDecision(UsageError):
    """No stored decision has this id."""


class AlreadyLabelled(UsageError):
    """The decision already has a true label."""


def expert_options(spec: ExpertSpec, policy: GuardPolicy) -> dict[str, Any]:
    """The judge options, with the policy's custom categories appended for the Llama Guard family (codes
    ``C1``, ``C2``, … after the default categories); a Granite Guardian expert whose ``risk`` names a custom
    category gets that category's description as its ``risk_definition``."""
    options = dict(spec.options)
    if spec.judge == "granite-guardian" and "risk_definition" not in options:
        named = {category.name: category for category in policy.custom_categories}
        risk = named.get(str(options.get("risk", "")))
        if risk is not None:
            if not risk.description:
                raise UsageError(f"expert '{spec.name}': custom category '{risk.name}' needs a description to "
                                 "be a Granite Guardian risk definition")
            options["risk_definition"] = risk.description
    if policy.custom_categories and spec.judge in CUSTOM_CATEGORY_JUDGES and "categories" not in options:
        from safetyscope.judges.llama_guard import load_guard_format

        fmt = load_guard_format(spec.judge.rsplit("-", 1)[1])
        base: list[dict[str, Any]] = []
        for category in fmt.defaults:
            description = category.text.split("\n", 1)[1] if "\n" in category.text else ""
            base.append({"code": category.code, "name": category.name, "description": description})
        custom = [{"code": f"C{index + 1}", "name": category.name, "description": category.description,
                   "hazards": []} for index, category in enumerate(policy.custom_categories)]
        options["categories"] = base + custom
    return options


def judge_input(messages: Sequence[Message], direction: Direction, decision_id: str) -> JudgeInput:
    """The judge input for a guarded conversation: the last user turn (input) or assistant turn (output)."""
    turns = tuple(messages)
    if not turns:
        raise UsageError("messages must not be empty")
    if direction == "input":
        if turns[-1].role != "user":
            raise UsageError("direction 'input' judges the last turn, which must be the user's")
        sample = Sample(id=decision_id, messages=turns, hazard="unmapped", expect=Expectation.REFUSE,
                        dataset="guard")
        return JudgeInput(sample=sample, sent=turns, response="")
    if turns[-1].role != "assistant" or not any(turn.role == "user" for turn in turns[:-1]):
        raise UsageError("direction 'output' judges the last turn, which must be the assistant's, after a user turn")
    prior = turns[:-1]
    sample = Sample(id=decision_id, messages=prior, hazard="unmapped", expect=Expectation.REFUSE, dataset="guard")
    return JudgeInput(sample=sample, sent=prior, response=turns[-1].content)


class GuardEngine:
    """One policy, its experts (built by :meth:`start`, on first use, or given), and the store."""

    def __init__(self, policy: GuardPolicy, store: GuardStore, *, judges: Mapping[str, Judge] | None = None) -> None:
        self.policy = policy
        self.store = store
        self._judges: dict[str, Judge] = dict(judges or {})
        self._lock = threading.Lock()
        self._names = tuple(expert.name for expert in policy.experts)
        self._hedge: tuple[float, Hedge] | None = None  # (monotonic time read, state)
        self._generation = 0  # bumped by feedback, so a read that raced with it is not cached
        self._cache_lock = threading.Lock()  # the generation check and the cache store happen as one step

    async def start(self) -> None:
        """Build every expert and read the weights now (off the event loop), not on the first request."""

        def prepare() -> None:
            for spec in self.policy.experts:
                try:
                    self.judge_for(spec)
                except Exception as exc:  # retried per request, where it counts as that expert's error
                    log.warning("expert %s (%s) could not be built: %s", spec.name, spec.judge, exc)
            self._read_hedge()

        await asyncio.to_thread(prepare)

    def judge_for(self, spec: ExpertSpec) -> Judge:
        """The expert's judge, built on first use (building never loads a model)."""
        judge = self._judges.get(spec.name)
        if judge is None:
            judge = create_judge(spec.judge, expert_options(spec, self.policy))
            self._judges[spec.name] = judge
        return judge

    def hedge(self) -> Hedge:
        """The current learned state (cached; read from the store when older than ``WEIGHTS_REFRESH_S``)."""
        cached = self._cached_hedge()
        return self._read_hedge() if cached is None else cached

    def _cached_hedge(self) -> Hedge | None:
        cached = self._hedge
        if cached is None or time.monotonic() - cached[0] > WEIGHTS_REFRESH_S:
            return None
        return cached[1]

    def _read_hedge(self) -> Hedge:
        with self._cache_lock:
            generation = self._generation
        read_at = time.monotonic()
        hedge = self.store.load_hedge(self.policy.name, self._names, horizon=self.policy.hedge_horizon)
        with self._cache_lock:
            if generation == self._generation:
                self._hedge = (read_at, hedge)
        return hedge

    async def _ask(self, spec: ExpertSpec, item: JudgeInput) -> tuple[Verdict | None, str, str, float]:
        start = time.perf_counter()
        try:
            verdict = await asyncio.wait_for(self.judge_for(spec).judge(item), timeout=spec.timeout_s)
        except TimeoutError:
            return None, "timeout", f"no verdict within {spec.timeout_s:g} s", _ms(start)
        except Exception as exc:  # an expert must never take the guard down
            return None, "error", f"{type(exc).__name__}: {exc}"[:500], _ms(start)
        if verdict.label == VerdictLabel.UNSCORED:
            return verdict, "unscored", verdict.unscored_reason or "unscored", _ms(start)
        return verdict, "ok", verdict.explanation[:500], _ms(start)

    def _score(self, verdict: Verdict) -> float:
        if self.policy.use_probabilities and verdict.probability_unsafe is not None:
            return float(verdict.probability_unsafe)
        return 1.0 if verdict.label == VerdictLabel.UNSAFE else 0.0

    async def check(self, messages: Sequence[Message], direction: Direction = "input") -> GuardDecision:
        """Judge one conversation and store the decision."""
        start = time.perf_counter()
        decision_id = f"gd-{secrets.token_hex(8)}"
        item = judge_input(messages, direction, decision_id)
        specs = self.policy.experts_for(direction)
        answers = await asyncio.gather(*(self._ask(spec, item) for spec in specs))
        hedge = self._cached_hedge()
        if hedge is None:
            hedge = await asyncio.to_thread(self._read_hedge)  # store reads stay off the event loop
        voting = [spec.name for spec, (_, status, _, _) in zip(specs, answers, strict=True) if status == "ok"]
        weights = hedge.weights(voting)
        votes: list[ExpertVote] = []
        score_sum = 0.0
        hazards: dict[str, None] = {}
        custom: dict[str, None] = {}
        for spec, (verdict, status, detail, latency) in zip(specs, answers, strict=True):
            score = self._score(verdict) if verdict is not None and status == "ok" else None
            named_custom = self._custom_named(verdict) if verdict is not None else ()
            if score is not None and verdict is not None:
                score_sum += weights[spec.name] * score
                if verdict.label == VerdictLabel.UNSAFE:
                    hazards.update(dict.fromkeys(verdict.categories))
                    custom.update(dict.fromkeys(named_custom))
            votes.append(ExpertVote(
                expert=spec.name, judge=spec.judge, status=status,
                label=verdict.label.value if verdict is not None else None, score=score,
                categories=verdict.categories if verdict is not None else (), custom_categories=named_custom,
                weight=round(weights.get(spec.name, 0.0), 6), latency_ms=round(latency, 3), detail=detail))
        skipped = tuple(vote.expert for vote in votes if vote.status != "ok")
        score_value = round(score_sum, 6) if voting else None
        action, label, pset, reason = self._decide(score_value, tuple(hazards), tuple(custom), bool(specs))
        decision = GuardDecision(
            decision_id=decision_id, action=action, direction=direction, policy=self.policy.name,
            policy_version=self.policy.version, label=label, score=score_value, prediction_set=pset,
            categories=tuple(hazards) if label == UNSAFE else (), custom_categories=tuple(custom) if label == UNSAFE
            else (), experts=tuple(votes), weights={name: round(w, 6) for name, w in weights.items()},
            skipped=skipped, degraded=bool(skipped), reason=reason, latency_ms=round(_ms(start), 3))
        text = "\n".join(f"{message.role}: {message.content}" for message in messages)
        record = NewDecision(
            decision_id=decision_id, policy=self.policy.name, policy_version=self.policy.version,
            policy_digest=self.policy.digest, direction=direction, action=action, score=score_value,
            categories=decision.categories,
            decision={**decision.model_dump(mode="json"), "all_experts": list(self._names),
                      "hedge_horizon": self.policy.hedge_horizon},
            input_hash=content_hash(text), input_text=text if self.policy.store_text else None,
            latency_ms=decision.latency_ms, created_at=utc_now())
        if self.store.writing_behind:
            self.store.queue_decision(record)
        else:
            await asyncio.to_thread(self.store.add_decisions, [record])
        return decision

    def _custom_named(self, verdict: Verdict) -> tuple[str, ...]:
        """Custom categories an expert named (its evidence lines ``C2: name``)."""
        names: list[str] = []
        for line in verdict.evidence:
            match = _CUSTOM_CODE.match(line)
            if match is None:
                continue
            index = int(match.group(1)[1:]) - 1
            if 0 <= index < len(self.policy.custom_categories):
                names.append(self.policy.custom_categories[index].name)
        return tuple(dict.fromkeys(names))

    def _decide(self, score: float | None, hazards: tuple[str, ...], custom: tuple[str, ...],
                any_expert: bool) -> tuple[Action, Literal["safe", "unsafe", "unknown"], tuple[str, ...] | None, str]:
        policy = self.policy
        if score is None:
            fail: dict[str, Action] = {"closed": "block", "open": "allow", "review": "review"}
            why = "no expert gave a verdict" if any_expert else "no expert judges this direction"
            return fail[policy.fail_mode], "unknown", None, f"{why}; fail mode {policy.fail_mode}"
        pset: tuple[str, ...] | None = None
        if policy.conformal is not None:
            labels = prediction_set(score, policy.conformal.q)
            pset = tuple(sorted(labels))
            if len(labels) != 1:
                return ("review", "unknown", pset,
                        f"conformal set {{{', '.join(pset)}}} at alpha={policy.conformal.alpha:g}: abstain")
            label = next(iter(labels))
            basis = f"conformal set {{{label}}} (alpha={policy.conformal.alpha:g})"
        else:
            label = UNSAFE if score >= policy.threshold else SAFE
            basis = f"score {score:.3f} {'≥' if label == UNSAFE else '<'} threshold {policy.threshold:g}"
        if label == SAFE:
            return "allow", "safe", pset, basis
        actions = {c.name: c.action for c in policy.custom_categories}
        blocked = [h for h in hazards if h in policy.blocked_hazards] + [c for c in custom if actions[c] == "block"]
        allowed = [h for h in hazards if h in policy.allowed] + [c for c in custom if actions[c] == "allow"]
        unlisted = [h for h in hazards if h not in policy.blocked_hazards and h not in policy.allowed]
        if blocked:
            return "block", "unsafe", pset, f"{basis}; blocked: {', '.join(blocked)}"
        if unlisted or not allowed:
            what = ", ".join(unlisted) if unlisted else "no category named"
            act: Action = "block" if policy.unlisted_action == "block" else "allow"
            return act, "unsafe", pset, f"{basis}; {what}: unlisted_action {policy.unlisted_action}"
        return "allow", "unsafe", pset, f"{basis}; allowed by policy: {', '.join(allowed)}"

    def feedback(self, decision_id: str, label: str) -> FeedbackResult:
        """Record the true label of a decision of this policy and update the weights (re-read after)."""
        try:
            return apply_feedback(self.store, decision_id, label, policy=self.policy, lock=self._lock)
        finally:
            with self._cache_lock:
                self._generation += 1
                self._hedge = None

    async def aclose(self) -> None:
        """Close experts that hold models or sessions."""
        for judge in self._judges.values():
            close = getattr(judge, "aclose", None)
            if close is not None:
                await close()


_FEEDBACK_LOCK = threading.Lock()


def apply_feedback(store: GuardStore, decision_id: str, label: str, *, policy: GuardPolicy | None = None,
                   lock: threading.Lock | None = None) -> FeedbackResult:
    """Set the true label of a stored decision and update its policy's weights from the stored votes.

    Without ``policy`` the experts and horizon are read from the stored decision (used by the review CLI)."""
    value = label.strip().lower()
    if value not in (SAFE, UNSAFE):
        raise UsageError(f"label must be 'safe' or 'unsafe', not {label!r}")
    row = store.get_decision(decision_id)
    if row is None:
        raise UnknownDecision(f"no guard decision {decision_id!r}")
    if row.true_label is not None:
        raise AlreadyLabelled(f"decision {decision_id} already labelled {row.true_label}")
    truth = 1.0 if value == UNSAFE else 0.0
    losses: dict[str, float | None] = {}
    for vote in row.decision.get("experts", []):
        score = vote.get("score")
        losses[str(vote["expert"])] = abs(float(score) - truth) if vote.get("status") == "ok" and score is not None \
            else None
    if policy is not None and policy.name == row.policy:
        experts = tuple(expert.name for expert in policy.experts)
        horizon = policy.hedge_horizon
    else:
        experts = tuple(dict.fromkeys([*row.decision.get("all_experts", []), *losses]))
        horizon = row.decision.get("hedge_horizon")
    with lock or _FEEDBACK_LOCK:
        hedge = store.load_hedge(row.policy, experts, horizon=horizon)
        hedge.update(losses)
        if not store.record_feedback(decision_id, value, row.policy, hedge):
            raise AlreadyLabelled(f"decision {decision_id} already labelled")
    return FeedbackResult(decision_id=decision_id, label="unsafe" if truth else "safe", losses=losses,
                          weights={name: round(w, 6) for name, w in hedge.weights().items()}, rounds=hedge.rounds,
                          regret=round(hedge.regret(), 6), regret_bound=round(hedge.bound(), 6))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
