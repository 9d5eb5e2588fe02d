"""The guard HTTP service (FastAPI; run with uvicorn via ``safetyscope guard serve``).

Endpoints: ``POST /v1/guard`` (a decision), ``POST /v1/moderations`` (OpenAI-compatible), ``POST
/v1/feedback`` (a true label → Hedge update), ``GET /healthz``, ``GET /metrics`` (Prometheus text), and
FastAPI's ``/openapi.json`` and ``/docs``. Bodies larger than ``max_body_bytes`` get 413; malformed JSON and
invalid fields get 422; an unknown policy or decision 404; a second label for a decision 409.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.guard.engine import AlreadyLabelled, FeedbackResult, GuardDecision, GuardEngine, UnknownDecision
from safetyscope.guard.policy import Direction
from safetyscope.taxonomy.catalog import TaxonomyCatalog

DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 200_000
MODERATION_TAXONOMY = "openai-moderation"


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

    def render(self, weights: Mapping[str, Mapping[str, float]]) -> str:
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
        lines += ["# HELP safetyscope_guard_expert_weight Current Hedge weight of each expert.",
                  "# TYPE safetyscope_guard_expert_weight gauge"]
        for policy, table in sorted(weights.items()):
            for expert, weight in sorted(table.items()):
                lines.append(f'safetyscope_guard_expert_weight{{policy="{policy}",expert="{expert}"}} {weight:.6f}')
        return "\n".join(lines) + "\n"


def moderation_categories(hazards: tuple[str, ...], catalog: TaxonomyCatalog) -> set[str]:
    """OpenAI moderation categories reached from canonical hazards (through the taxonomy crosswalk)."""
    found: set[str] = set()
    for hazard in hazards:
        found.update(catalog.from_canonical(hazard, MODERATION_TAXONOMY))
    return found


def create_app(engines: Mapping[str, GuardEngine], *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The app for one or more policies (the first is the default)."""
    if not engines:
        raise UsageError("the guard service needs at least one policy")
    default = next(iter(engines))
    metrics = Metrics()
    catalog = TaxonomyCatalog()
    moderation_codes = tuple(code.code for code in catalog.load(MODERATION_TAXONOMY).codes)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        yield
        for engine in engines.values():
            await engine.aclose()

    app = FastAPI(title="safetyscope guard", version="1", lifespan=lifespan,
                  description="Runtime safety guard: policy-driven, online-weighted ensemble of judges.")
    app.state.metrics = metrics

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length")
            too_big = False
            if length is not None:
                too_big = not length.isdigit() or int(length) > max_body_bytes
            else:
                too_big = len(await request.body()) > max_body_bytes
            if too_big:
                metrics.http_errors[413] += 1
                return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, status_code=413)
        response = await call_next(request)
        if response.status_code >= 400:
            metrics.http_errors[response.status_code] += 1
        return response

    def engine_for(name: str | None) -> GuardEngine:
        engine = engines.get(name or default)
        if engine is None:
            raise HTTPException(404, f"unknown policy {name!r} (loaded: {', '.join(engines)})")
        return engine

    async def decide(engine: GuardEngine, messages: list[Message], direction: Direction) -> GuardDecision:
        try:
            decision = await engine.check(messages, direction)
        except UsageError as exc:
            raise HTTPException(422, str(exc)) from None
        metrics.observe(decision)
        return decision

    @app.post("/v1/guard", response_model=GuardDecision, summary="Judge a conversation under a policy.")
    async def guard(body: GuardRequest) -> GuardDecision:
        engine = engine_for(body.policy)
        messages = [Message(role=m.role, content=m.content) for m in body.messages]
        return await decide(engine, messages, body.direction)

    @app.post("/v1/moderations", response_model=ModerationResponse, summary="OpenAI-compatible moderation.")
    async def moderations(body: ModerationRequest) -> ModerationResponse:
        engine = engine_for(None)
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or len(texts) > MAX_MESSAGES or any(len(t) > MAX_CONTENT_CHARS for t in texts):
            raise HTTPException(422, f"input must hold 1 to {MAX_MESSAGES} texts of at most {MAX_CONTENT_CHARS} chars")
        results = []
        for text in texts:
            decision = await decide(engine, [Message(role="user", content=text)], "input")
            named = moderation_categories(decision.categories, catalog)
            score = decision.score or 0.0
            flagged = decision.action != "allow"
            results.append(ModerationResult(
                flagged=flagged, categories={code: flagged and code in named for code in moderation_codes},
                category_scores={code: round(score, 6) if code in named else 0.0 for code in moderation_codes}))
        return ModerationResponse(id=f"modr-{secrets.token_hex(12)}", model=body.model or f"safetyscope-guard/"
                                  f"{engine.policy.name}@{engine.policy.version}", results=results)

    @app.post("/v1/feedback", response_model=FeedbackResult, summary="The true label of a decision.")
    async def feedback(body: FeedbackRequest) -> FeedbackResult:
        row = await asyncio.to_thread(next(iter(engines.values())).store.get_decision, body.decision_id)
        if row is None:
            raise HTTPException(404, f"no guard decision {body.decision_id!r}")
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
                "default_policy": default, "time": time.time()}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics.")
    async def prometheus() -> PlainTextResponse:
        weights = {name: engine.hedge().weights() for name, engine in engines.items()}
        return PlainTextResponse(metrics.render(weights), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
