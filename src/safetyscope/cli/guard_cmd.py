"""``safetyscope guard``: serve the runtime guard, show the default policy, work the review queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.table import Table

from safetyscope.core.config import DEFAULT_OUTPUT_DIR
from safetyscope.core.errors import DatasetError, PrerequisiteError, UsageError
from safetyscope.core.records import Message
from safetyscope.guard.conformal import calibrate, is_unsafe, prediction_set
from safetyscope.guard.engine import GuardEngine, apply_feedback
from safetyscope.guard.policy import GuardPolicy, default_policy, dump_policy, load_policy
from safetyscope.guard.store import GuardStore

guard_app = typer.Typer(no_args_is_help=True, help="Runtime guard: HTTP service, policies, review queue.")
review_app = typer.Typer(no_args_is_help=True, help="Decisions the guard sent to review (conformal abstentions).")
guard_app.add_typer(review_app, name="review")

DEFAULT_GUARD_STORE = str(DEFAULT_OUTPUT_DIR / "guard.sqlite")


def _policies(paths: list[Path] | None) -> list[GuardPolicy]:
    policies = [load_policy(path) for path in paths] if paths else [default_policy()]
    names = [policy.name for policy in policies]
    if len(set(names)) != len(names):
        raise UsageError(f"policy names must be unique (got {', '.join(names)})")
    return policies


@guard_app.command("serve", help="Serve the guard over HTTP (POST /v1/guard, /v1/moderations, /v1/feedback).")
def serve(
    policy: list[Path] | None = typer.Option(None, help="Policy YAML (repeatable; the first is the default). "
                                                        "Default: the built-in offline policy."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store: a SQLite path or any SQLAlchemy URL."),
    max_body_bytes: int = typer.Option(1_000_000, min=1024, help="Larger request bodies get 413."),
) -> None:
    try:
        import uvicorn

        from safetyscope.guard.service import create_app
    except ImportError as exc:
        raise PrerequisiteError(f"the guard service needs the 'guard' extra: pip install 'safetyscope[guard]' "
                                f"({exc})") from None
    policies = _policies(policy)
    opened = GuardStore.open(store)
    engines = {p.name: GuardEngine(p, opened) for p in policies}
    app = create_app(engines, max_body_bytes=max_body_bytes)
    Console(stderr=True).print(f"guard: policies {', '.join(f'{p.name}@{p.version}' for p in policies)}; "
                               f"store {opened.url}; http://{host}:{port}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        opened.close()


@guard_app.command("policy", help="Print the built-in default policy as YAML (a starting point).")
def show_policy() -> None:
    typer.echo(dump_policy(default_policy()), nl=False)


@review_app.command("list", help="Decisions awaiting review (no true label yet).")
def review_list(
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
    limit: int = typer.Option(50, min=1, help="At most this many."),
) -> None:
    opened = GuardStore.open(store)
    try:
        rows = opened.list_decisions(action="review", unlabelled=True, limit=limit)
    finally:
        opened.close()
    table = Table("created", "policy", "direction", "score", "text (or hash)")
    table.add_column("decision", no_wrap=True)
    for row in rows:
        shown = (row.input_text or f"#{row.input_hash}").replace("\n", " ")
        table.add_row(row.created_at, f"{row.policy}@{row.policy_version}", row.direction,
                      "n/a" if row.score is None else f"{row.score:.3f}", shown[:80], row.decision_id)
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} awaiting review")


@review_app.command("resolve", help="Give a reviewed decision its true label (updates the expert weights).")
def review_resolve(
    decision_id: str = typer.Argument(..., help="The decision id."),
    label: str = typer.Option(..., help="safe or unsafe."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    opened = GuardStore.open(store)
    try:
        result = apply_feedback(opened, decision_id, label)
    finally:
        opened.close()
    weights = ", ".join(f"{name}={weight:.3f}" for name, weight in result.weights.items())
    typer.echo(f"{decision_id}: {result.label}; weights {weights} after {result.rounds} labels")


def read_labelled(path: Path) -> list[tuple[list[Message], str, str]]:
    """JSONL rows ``{"messages": [...]}`` or ``{"prompt": "..."}``, optional ``"direction"`` (input), and
    ``"label"`` (safe/unsafe)."""
    items: list[tuple[list[Message], str, str]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            if "messages" in row:
                messages = [Message.model_validate(m) for m in row["messages"]]
            else:
                messages = [Message(role="user", content=str(row["prompt"]))]
            direction = str(row.get("direction", "input"))
            if direction not in ("input", "output"):
                raise ValueError(f"direction must be input or output, not {direction!r}")
            label = "unsafe" if is_unsafe(row["label"]) else "safe"
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise DatasetError(path, f"{type(exc).__name__}: {exc}", line=number) from None
        items.append((messages, direction, label))
    if not items:
        raise DatasetError(path, "no labelled rows")
    return items


@guard_app.command("calibrate", help="Split-conformal calibration: run the policy on labelled data, write the "
                                     "policy with its conformal threshold.")
def calibrate_cmd(
    labels: Path = typer.Option(..., help="JSONL: {messages | prompt, direction?, label: safe|unsafe} per line."),
    alpha: float = typer.Option(0.1, min=0.001, max=0.999, help="Target miscoverage (1 - alpha coverage)."),
    policy: Path | None = typer.Option(None, help="Policy YAML (default: the built-in policy)."),
    output: Path = typer.Option(..., help="Where to write the calibrated policy YAML."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store (calibration decisions are stored too)."),
) -> None:
    chosen = _policies([policy] if policy else None)[0]
    items = read_labelled(labels)
    opened = GuardStore.open(store)
    engine = GuardEngine(chosen, opened)

    async def score_all() -> list[float | None]:
        try:
            scores: list[float | None] = []
            for messages, direction, _ in items:
                decision = await engine.check(messages, "output" if direction == "output" else "input")
                scores.append(decision.score)
            return scores
        finally:
            await engine.aclose()

    try:
        scores = asyncio.run(score_all())
    finally:
        opened.close()
    pairs = [(score, label) for score, (_, _, label) in zip(scores, items, strict=True) if score is not None]
    if not pairs:
        raise UsageError("no item got a score (every expert failed): nothing to calibrate")
    result = calibrate([score for score, _ in pairs], [label for _, label in pairs], alpha)
    abstain = sum(len(prediction_set(score, result.q)) != 1 for score, _ in pairs) / len(pairs)
    output.write_text(dump_policy(chosen.model_copy(update={"conformal": result})), encoding="utf-8")
    typer.echo(f"calibrated on {len(pairs)} of {len(items)} items (unscored items dropped): q={result.q:.4f} at "
               f"alpha={alpha:g}; review rate on the calibration set {abstain:.1%}; policy written to {output}")
