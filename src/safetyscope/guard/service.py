"""The guard HTTP service (FastAPI; run with uvicorn via ``safetyscope guard serve``).

Endpoints: ``POST /v1/guard`` (a decision), ``POST /v1/moderations`` (OpenAI-compatible), ``POST
/v1/chat/completions`` (the guarded proxy, ``guard.proxy``), ``POST /v1/feedback`` (a true label → Hedge
update), ``GET /healthz``, ``GET /metrics`` (Prometheus text), and FastAPI's ``/openapi.json`` and ``/docs``.
Bodies larger than ``max_body_bytes`` get 413; malformed JSON and invalid fields 422; a missing or bad API key
401, a policy the key may not use (or feedback without the right to label) 403, a key over its rate 429
(``Retry-After``; one token per text judged); an unknown policy or decision 404; a second label for a decision
409; a failed upstream 502 (504 on timeout); 503 when the store is so far behind that decisions could not be
recorded, or the key table cannot be read.

Startup builds every expert and starts the store's background decision writer (unless ``write_behind`` is
off); shutdown (after in-flight requests finished) writes every queued decision before the process exits.
Responses are serialised once, straight from the decision (no second validation against the response model).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from safetyscope.core.batching import WriteBacklog
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.guard.auth import Authenticator, AuthFailure, check_label, check_policy
from safetyscope.guard.engine import AlreadyLabelled, FeedbackResult, GuardDecision, GuardEngine, UnknownDecision
from safetyscope.guard.limits import BodyLimit, check_texts
from safetyscope.guard.policy import Direction
from safetyscope.guard.proxy import Upstream, configured_body, guarded_chat, parse_chat
from safetyscope.guard.ratelimit import RateLimiter
from safetyscope.guard.retention import purge_periodically
from safetyscope.guard.settings import MAX_CONTENT_CHARS, MAX_MESSAGES, ServiceSettings
from safetyscope.guard.store import ApiKeyRow
from safetyscope.taxonomy.catalog import TaxonomyCatalog

DEFAULT_MAX_BODY_BYTES = 1_000_000
MODERATION_TAXONOMY = "openai-moderation"
POLICY_HEADER = "X-Guard-Policy"
log = logging.getLogger("safetyscope.guard")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuardMessage(_Body):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_CONTENT_CHARS)


class GuardRequest(_Body):
    messages: list[GuardMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    direction: Direction = "input"
    policy: str | None = Field(default=None, description="Policy name; the server's first policy when omitted.")


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients may send fields we ignore

    input: str | list[str] = Field(description="Text or texts to classify.")
    model: str | None = None


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


class FeedbackRequest(_Body):
    decision_id: str = Field(min_length=1, max_length=200)
    label: Literal["safe", "unsafe"]


class Metrics:
    """In-process counters, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.decisions: Counter[tuple[str, str, str]] = Counter()
        self.skipped: Counter[tuple[str, str]] = Counter()
        self.feedback: Counter[str] = Counter()
        self.latency_sum = 0.0
        self.latency_count = 0
        self.http_errors: Counter[int] = Counter()

    def observe(self, decision: GuardDecision) -> None:
        with self._lock:
            self.decisions[(decision.policy, decision.direction, decision.action)] += 1
            for vote in decision.experts:
                if vote.status != "ok":
                    self.skipped[(vote.expert, vote.status)] += 1
            self.latency_sum += decision.latency_ms / 1000.0
            self.latency_count += 1

    def render(self, weights: Mapping[str, Mapping[str, float]], pending_writes: int = 0,
               dropped_writes: int = 0) -> str:
        lines = ["# HELP safetyscope_guard_decisions_total Guard decisions by policy, direction and action.",
                 "# TYPE safetyscope_guard_decisions_total counter"]
        with self._lock:
            for (policy, direction, action), count in sorted(self.decisions.items()):
                lines.append(f'safetyscope_guard_decisions_total{{policy="{policy}",direction="{direction}",'
                             f'action="{action}"}} {count}')
            lines += ["# HELP safetyscope_guard_expert_skipped_total Expert calls skipped (timeout, error, unscored).",
                      "# TYPE safetyscope_guard_expert_skipped_total counter"]
            for (expert, status), count in sorted(self.skipped.items()):
                lines.append(f'safetyscope_guard_expert_skipped_total{{expert="{expert}",status="{status}"}} {count}')
            lines += ["# HELP safetyscope_guard_feedback_total Feedback labels received.",
                      "# TYPE safetyscope_guard_feedback_total counter"]
            for label, count in sorted(self.feedback.items()):
                lines.append(f'safetyscope_guard_feedback_total{{label="{label}"}} {count}')
            lines += ["# HELP safetyscope_guard_decision_seconds Decision latency.",
                      "# TYPE safetyscope_guard_decision_seconds summary",
                      f"safetyscope_guard_decision_seconds_sum {self.latency_sum:.6f}",
                      f"safetyscope_guard_decision_seconds_count {self.latency_count}",
                      "# HELP safetyscope_guard_http_errors_total Requests answered with a 4xx/5xx status.",
                      "# TYPE safetyscope_guard_http_errors_total counter"]
            for code, count in sorted(self.http_errors.items()):
                lines.append(f'safetyscope_guard_http_errors_total{{status="{code}"}} {count}')
        lines += ["# HELP safetyscope_guard_pending_writes Decisions answered but not yet committed to the store.",
                  "# TYPE safetyscope_guard_pending_writes gauge", f"safetyscope_guard_pending_writes {pending_writes}",
                  "# HELP safetyscope_guard_dropped_writes_total Decisions that could never be stored (set aside).",
                  "# TYPE safetyscope_guard_dropped_writes_total counter",
                  f"safetyscope_guard_dropped_writes_total {dropped_writes}"]
        lines += ["# HELP safetyscope_guard_expert_weight Current Hedge weight of each expert.",
                  "# TYPE safetyscope_guard_expert_weight gauge"]
        for policy, table in sorted(weights.items()):
            for expert, weight in sorted(table.items()):
                lines.append(f'safetyscope_guard_expert_weight{{policy="{policy}",expert="{expert}"}} {weight:.6f}')
        return "\n".join(lines) + "\n"


class CountErrors:
    """Pure ASGI middleware counting 4xx/5xx responses (no per-request task or stream, unlike
    ``@app.middleware``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                self.metrics.http_errors[int(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def moderation_categories(hazards: tuple[str, ...], catalog: TaxonomyCatalog) -> set[str]:
    """OpenAI moderation categories reached from canonical hazards (through the taxonomy crosswalk)."""
    found: set[str] = set()
    for hazard in hazards:
        found.update(catalog.from_canonical(hazard, MODERATION_TAXONOMY))
    return found


def create_app(engines: Mapping[str, GuardEngine], *, settings: ServiceSettings | None = None,
               max_body_bytes: int | None = None, upstream_api_key: str | None = None,
               write_behind: bool = True) -> FastAPI:
    """The app for one or more policies (the first is the default). ``max_body_bytes`` overrides
    ``settings``; ``upstream_api_key`` is the upstream's key (read from the environment by the CLI);
    ``write_behind`` false commits each decision before its reply (slower; nothing lost even to ``kill -9``)."""
    if not engines:
        raise UsageError("the guard service needs at least one policy")
    config = settings or ServiceSettings()
    if max_body_bytes is not None:
        config = config.model_copy(update={"max_body_bytes": max_body_bytes})
    default = next(iter(engines))
    store = engines[default].store
    metrics = Metrics()
    catalog = TaxonomyCatalog()
    moderation_codes = tuple(code.code for code in catalog.load(MODERATION_TAXONOMY).codes)
    authenticator = Authenticator(store, require_key=config.require_key)
    limiter = RateLimiter()
    upstream = None if config.chat_url is None else Upstream(
        config.chat_url, api_key=upstream_api_key, timeout_s=config.upstream_timeout_s,
        retries=config.upstream_retries)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        if write_behind:
            store.start_writer()
        for engine in engines.values():
            await engine.start()
        purger = None if config.retention_days is None else asyncio.create_task(
            purge_periodically(store, config.retention_days, config.purge_interval_s))
        try:
            yield
        finally:
            try:
                if purger is not None:
                    purger.cancel()
                if upstream is not None:
                    await upstream.aclose()
                for engine in engines.values():
                    await engine.aclose()
            finally:  # even when closing a client failed: every decision answered is in the store
                await asyncio.to_thread(store.stop_writer)

    app = FastAPI(title="safetyscope guard", version="1", lifespan=lifespan,
                  description="Runtime safety guard: policy-driven, online-weighted ensemble of judges.")
    app.state.metrics = metrics

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(CountErrors, metrics=metrics)  # outermost: counts BodyLimit's 413s too, once

    def engine_for(name: str | None) -> GuardEngine:
        engine = engines.get(name or default)
        if engine is None:
            raise HTTPException(404, f"unknown policy {name!r} (loaded: {', '.join(engines)})")
        return engine

    async def authorize(request: Request, policy: str | None, cost: int = 1) -> ApiKeyRow | None:
        """401/403/429 unless the request's key may use ``policy`` now (None: checked later); a rate-limited
        key pays ``cost`` tokens (one per text to judge; 413 above its burst)."""
        authorization = request.headers.get("authorization")
        try:
            # no key and a cached "do keys exist" answer: no store read, no thread hop; any store read (the
            # once-a-second refresh, a key's lookup) stays off the event loop
            key = authenticator.authenticate(None) if not authorization and authenticator.fresh() else \
                await asyncio.to_thread(authenticator.authenticate, authorization)
            charge(key, cost)
            if policy is not None:
                check_policy(key, policy)
        except AuthFailure as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            raise HTTPException(exc.status, str(exc), headers=headers) from None
        return key

    def charge(key: ApiKeyRow | None, cost: int) -> None:
        """429 (or 413 above the burst) unless a rate-limited key can pay ``cost`` tokens now."""
        if key is None or key.rate_per_s is None or cost < 1:
            return
        if key.burst is not None and cost > key.burst:
            raise HTTPException(413, f"{cost} texts in one request, more than the burst of {key.burst} of key "
                                     f"{key.key_id}: send at most {key.burst} per request")
        wait = limiter.acquire(key.key_id, key.rate_per_s, key.burst, cost)
        if wait > 0:
            raise HTTPException(429, f"rate limit of {key.rate_per_s:g}/s (burst {key.burst}) exceeded for key "
                                     f"{key.key_id}", headers={"Retry-After": str(math.ceil(wait))})

    async def authorized_engine(request: Request, name: str | None, cost: int = 1) -> GuardEngine:
        """The policy's engine, once the key is checked (so an unauthenticated caller cannot probe policy names
        here; ``/healthz`` and ``/metrics`` do list them)."""
        await authorize(request, name or default, cost)
        return engine_for(name)

    def limit(texts: list[str], what: str) -> None:
        try:
            check_texts(texts, max_messages=config.max_messages, max_content_chars=config.max_content_chars,
                        what=what)
        except UsageError as exc:
            raise HTTPException(413, str(exc)) from None

    async def decide(engine: GuardEngine, messages: list[Message], direction: Direction) -> GuardDecision:
        try:
            decision = await engine.check(messages, direction)
        except WriteBacklog as exc:
            raise HTTPException(503, f"decisions cannot be recorded now: {exc}") from None
        except UsageError as exc:
            raise HTTPException(422, str(exc)) from None
        metrics.observe(decision)
        if config.log_text:
            log.info("decision %s policy=%s direction=%s action=%s latency_ms=%.1f text=%r", decision.decision_id,
                     decision.policy, direction, decision.action, decision.latency_ms,
                     "\n".join(f"{m.role}: {m.content}" for m in messages))
        else:
            log.info("decision %s policy=%s direction=%s action=%s latency_ms=%.1f", decision.decision_id,
                     decision.policy, direction, decision.action, decision.latency_ms)
        return decision

    @app.post("/v1/guard", response_model=GuardDecision, summary="Judge a conversation under a policy.")
    async def guard(body: GuardRequest, request: Request) -> Response:
        engine = await authorized_engine(request, body.policy)
        limit([m.content for m in body.messages], "messages")
        messages = [Message(role=m.role, content=m.content) for m in body.messages]
        return json_response((await decide(engine, messages, body.direction)).model_dump_json().encode())

    @app.post("/v1/moderations", response_model=ModerationResponse, summary="OpenAI-compatible moderation.")
    async def moderations(body: ModerationRequest, request: Request) -> Response:
        texts = [body.input] if isinstance(body.input, str) else body.input
        engine = await authorized_engine(request, request.headers.get(POLICY_HEADER), max(1, len(texts)))
        if not texts:
            raise HTTPException(422, "input must hold at least one text")
        limit(texts, "input")
        results = []
        for text in texts:
            decision = await decide(engine, [Message(role="user", content=text)], "input")
            named = moderation_categories(decision.categories, catalog)
            score = decision.score or 0.0
            flagged = decision.action != "allow"
            results.append({"flagged": flagged,
                            "categories": {code: flagged and code in named for code in moderation_codes},
                            "category_scores": {code: round(score, 6) if code in named else 0.0
                                                for code in moderation_codes}})
        model = body.model or f"safetyscope-guard/{engine.policy.name}@{engine.policy.version}"
        return json_response(orjson.dumps({"id": f"modr-{secrets.token_hex(12)}", "model": model,
                                           "results": results}))

    @app.post("/v1/chat/completions", summary="Guarded proxy to the upstream OpenAI-compatible server.",
              responses={200: {"description": "The upstream's reply unchanged, or a refusal with a `guard` field "
                                              "(`X-Guard-Decision-Id` header either way)."},
                         502: {"description": "The upstream failed; the input decision is still stored."}})
    async def chat_completions(request: Request) -> Response:
        name = request.headers.get(POLICY_HEADER)
        key = await authorize(request, name or default)
        engine = engine_for(name)
        if upstream is None:
            raise HTTPException(503, "no upstream configured: start the guard with --upstream URL")
        raw = await request.body()
        try:
            body = orjson.loads(raw)
            call = parse_chat(body, max_messages=config.max_messages, max_content_chars=config.max_content_chars)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(422, f"body is not valid JSON: {exc}") from None
        except UsageError as exc:
            raise HTTPException(413 if "more than the limit" in str(exc) else 422, str(exc)) from None
        choices = body.get("n", 1)
        charge(key, choices - 1 if isinstance(choices, int) else 0)  # n > 1: one more output check per choice
        forwarded = configured_body(body, engine.policy.safety_config) or raw
        outcome = await guarded_chat(call, forwarded, upstream, lambda messages, direction: decide(
            engine, messages, direction))
        return Response(outcome.body, status_code=outcome.status, media_type=outcome.media_type,
                        headers=outcome.headers)

    @app.post("/v1/feedback", response_model=FeedbackResult, summary="The true label of a decision.")
    async def feedback(body: FeedbackRequest, request: Request) -> FeedbackResult:
        key = await authorize(request, None)
        try:  # a label changes the policy's weights for every client: it needs its own permission
            check_label(key, open_feedback=config.open_feedback)
        except AuthFailure as exc:
            raise HTTPException(exc.status, str(exc)) from None
        row = await asyncio.to_thread(store.get_decision, body.decision_id)
        if row is None:
            raise HTTPException(404, f"no guard decision {body.decision_id!r}")
        try:
            check_policy(key, row.policy)
        except AuthFailure as exc:
            raise HTTPException(exc.status, str(exc)) from None
        engine = engines.get(row.policy) or next(iter(engines.values()))
        try:
            result = await asyncio.to_thread(engine.feedback, body.decision_id, body.label)
        except UnknownDecision as exc:
            raise HTTPException(404, str(exc)) from None
        except AlreadyLabelled as exc:
            raise HTTPException(409, str(exc)) from None
        metrics.feedback[body.label] += 1
        return result

    @app.get("/healthz", summary="Liveness and loaded policies.")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "policies": {name: e.policy.version for name, e in engines.items()},
                "default_policy": default, "upstream": config.upstream, "pending_writes": store.pending_writes,
                "time": time.time()}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics.")
    async def prometheus() -> PlainTextResponse:
        weights = await asyncio.to_thread(lambda: {name: e.hedge().weights() for name, e in engines.items()})
        return PlainTextResponse(metrics.render(weights, store.pending_writes, store.dropped_writes),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
