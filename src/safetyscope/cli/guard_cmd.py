"""``safetyscope guard``: serve the runtime guard, show the default policy, work the review queue, manage
API keys, purge old decisions."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.table import Table

from safetyscope.core.config import DEFAULT_OUTPUT_DIR
from safetyscope.core.errors import DatasetError, PrerequisiteError, UsageError
from safetyscope.core.records import Message
from safetyscope.datasets import LabelKind, open_labelled_set
from safetyscope.guard.auth import create_key
from safetyscope.guard.conformal import calibrate, check_coverage, holdout_split, is_unsafe, prediction_set
from safetyscope.guard.engine import GuardEngine, apply_feedback
from safetyscope.guard.policy import GuardPolicy, default_policy, dump_policy, load_policy
from safetyscope.guard.retention import purge
from safetyscope.guard.settings import load_settings
from safetyscope.guard.store import GuardStore

guard_app = typer.Typer(no_args_is_help=True, help="Runtime guard: HTTP service, policies, review queue, keys.")
review_app = typer.Typer(no_args_is_help=True, help="Decisions the guard sent to review (conformal abstentions).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys of the guard service (stored as salted hashes).")
guard_app.add_typer(review_app, name="review")
guard_app.add_typer(keys_app, name="keys")

DEFAULT_GUARD_STORE = str(DEFAULT_OUTPUT_DIR / "guard.sqlite")


@contextmanager
def _opened(location: str) -> Iterator[GuardStore]:
    """The guard store at ``location``, closed afterwards."""
    opened = GuardStore.open(location)
    try:
        yield opened
    finally:
        opened.close()


def _show(table: Table, footer: str) -> None:
    console = Console()
    console.print(table)
    console.print(footer)


def _policies(paths: list[Path] | None) -> list[GuardPolicy]:
    policies = [load_policy(path) for path in paths] if paths else [default_policy()]
    names = [policy.name for policy in policies]
    if len(set(names)) != len(names):
        raise UsageError(f"policy names must be unique (got {', '.join(names)})")
    return policies


@guard_app.command("serve", help="Serve the guard over HTTP (POST /v1/guard, /v1/moderations, /v1/chat/completions, "
                                   "/v1/feedback).")
def serve(
    policy: list[Path] | None = typer.Option(None, help="Policy YAML (repeatable; the first is the default). "
                                                        "Default: the built-in offline policy."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store: a SQLite path or any SQLAlchemy URL."),
    config: Path | None = typer.Option(None, help="Service settings YAML (upstream, limits, retention, ...); "
                                                  "flags override it."),
    upstream: str | None = typer.Option(None, help="OpenAI-compatible upstream base URL (e.g. "
                                                   "http://127.0.0.1:8000/v1) for POST /v1/chat/completions."),
    upstream_timeout: float | None = typer.Option(None, min=0.001, help="Upstream timeout in seconds (120)."),
    require_key: bool | None = typer.Option(None, "--require-key/--no-require-key",
                                            help="Require an API key even when none exists yet."),
    open_feedback: bool | None = typer.Option(None, "--open-feedback/--no-open-feedback",
                                              help="While no API key exists, accept POST /v1/feedback from anyone "
                                                   "(off: 403; labels change the weights for every client)."),
    max_body_bytes: int | None = typer.Option(None, min=1024, help="Larger request bodies get 413 (1000000)."),
    retention_days: float | None = typer.Option(None, min=0.0001, help="Purge decisions older than this."),
    log_text: bool | None = typer.Option(None, "--log-text/--no-log-text",
                                         help="Write prompt and response text to the log (off by default)."),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log",
                                    help="uvicorn's line per HTTP request (off: it costs throughput; every "
                                         "decision is logged anyway)."),
    write_behind: bool = typer.Option(True, "--write-behind/--no-write-behind",
                                      help="Reply before the decision is committed (a background thread writes "
                                           "batches; SIGTERM loses nothing; kill -9 loses what is queued: "
                                           "~10 ms of decisions, up to the whole backlog while the store is "
                                           "behind). Off: commit each decision before its reply."),
) -> None:
    try:
        import uvicorn

        from safetyscope.guard.service import create_app
    except ImportError as exc:
        raise PrerequisiteError(f"the guard service needs the 'guard' extra: pip install 'safetyscope[guard]' "
                                f"({exc})") from None
    settings = load_settings(config, upstream=upstream, upstream_timeout_s=upstream_timeout, require_key=require_key,
                             open_feedback=open_feedback, max_body_bytes=max_body_bytes, retention_days=retention_days,
                             log_text=log_text)
    api_key = None
    if settings.upstream_api_key_env:
        api_key = os.environ.get(settings.upstream_api_key_env)
        if not api_key:
            raise PrerequisiteError(f"upstream_api_key_env names {settings.upstream_api_key_env}, which is not set")
    policies = _policies(policy)
    opened = GuardStore.open(store)
    engines = {p.name: GuardEngine(p, opened) for p in policies}
    app = create_app(engines, settings=settings, upstream_api_key=api_key, write_behind=write_behind)
    guard_log = logging.getLogger("safetyscope.guard")
    if not guard_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        guard_log.addHandler(handler)
        guard_log.setLevel(logging.INFO)
    Console(stderr=True).print(f"guard: policies {', '.join(f'{p.name}@{p.version}' for p in policies)}; "
                               f"store {opened.url}; upstream {settings.upstream or 'none'}; http://{host}:{port}")
    try:
        # loop/http "auto": uvloop and httptools when installed (the guard extra declares them)
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log, loop="auto", http="auto")
    finally:
        opened.close()


@guard_app.command("purge", help="Delete stored decisions older than --days (learned weights are kept).")
def purge_cmd(
    days: float | None = typer.Option(None, min=0.0001, help="Retention in days (default: the config's)."),
    config: Path | None = typer.Option(None, help="Service settings YAML with retention_days."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    retention = days if days is not None else load_settings(config).retention_days
    if retention is None:
        raise UsageError("give --days N, or --config with retention_days")
    with _opened(store) as opened:
        deleted = purge(opened, retention)
    typer.echo(f"purged {deleted} decisions older than {retention:g} days")


@keys_app.command("create", help="Create an API key bound to policies; the key is printed once, never stored.")
def keys_create(
    policy: list[str] = typer.Option(..., "--policy", help="A policy name the key may use (repeatable)."),
    name: str = typer.Option("", help="A label for the key (who holds it)."),
    rate: float | None = typer.Option(None, min=0.001, help="Requests per second (token bucket; default: none)."),
    burst: int | None = typer.Option(None, min=1, help="Bucket size (default: the rate, at least 1)."),
    label: bool = typer.Option(False, "--label", help="May send true labels (POST /v1/feedback), which change "
                                                      "the policy's expert weights for every client."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    with _opened(store) as opened:
        key = create_key(opened, name=name, policies=tuple(policy), rate_per_s=rate, burst=burst, can_label=label)
    Console(stderr=True).print(f"key {key.key_id} for {', '.join(policy)}: shown once, store it now")
    typer.echo(key.plaintext)


@keys_app.command("list", help="API keys (ids, names, policies, limits; never the secrets).")
def keys_list(
    revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    with _opened(store) as opened:
        rows = opened.list_keys(include_revoked=revoked)
    table = Table("key id", "name", "policies", "rate/s", "burst", "labels", "created", "revoked")
    for row in rows:
        table.add_row(row.key_id, row.name, ", ".join(row.policies), "-" if row.rate_per_s is None else
                      f"{row.rate_per_s:g}", "-" if row.burst is None else str(row.burst),
                      "yes" if row.can_label else "no", row.created_at, row.revoked_at or "")
    _show(table, f"{len(rows)} keys")


@keys_app.command("revoke", help="Revoke an API key (takes effect within a second).")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (the hex after 'sg_')."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    with _opened(store) as opened:
        revoked = opened.revoke_key(key_id)
    if not revoked:
        raise UsageError(f"no active key {key_id!r} (see 'safetyscope guard keys list --all')")
    typer.echo(f"revoked {key_id}")


@guard_app.command("policy", help="Print the built-in default policy as YAML (a starting point).")
def show_policy() -> None:
    typer.echo(dump_policy(default_policy()), nl=False)


@review_app.command("list", help="Decisions awaiting review (no true label yet).")
def review_list(
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
    limit: int = typer.Option(50, min=1, help="At most this many."),
) -> None:
    with _opened(store) as opened:
        rows = opened.list_decisions(action="review", unlabelled=True, limit=limit)
    table = Table("created", "policy", "direction", "score", "text (or hash)")
    table.add_column("decision", no_wrap=True)
    for row in rows:
        shown = (row.input_text or f"#{row.input_hash}").replace("\n", " ")
        table.add_row(row.created_at, f"{row.policy}@{row.policy_version}", row.direction,
                      "n/a" if row.score is None else f"{row.score:.3f}", shown[:80], row.decision_id)
    _show(table, f"{len(rows)} awaiting review")


@review_app.command("resolve", help="Give a reviewed decision its true label (updates the expert weights).")
def review_resolve(
    decision_id: str = typer.Argument(..., help="The decision id."),
    label: str = typer.Option(..., help="safe or unsafe."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store path or URL."),
) -> None:
    with _opened(store) as opened:
        result = apply_feedback(opened, decision_id, label)
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


def read_calibration_items(labels: str) -> list[tuple[list[Message], str, str]]:
    """A guard JSONL file (rows with ``label``: see :func:`read_labelled`), or any labelled judge set by name or path
    (``harmbench-val``, an Aegis 2.0 or OpenAI-moderation file, …) with harmfulness labels: response-side items are
    judged as output (the prompt plus the response), prompt-side items as input."""
    path = Path(labels)
    if path.suffix == ".jsonl" and path.is_file():
        first = next((line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()), "")
        try:
            is_guard_format = isinstance(row := orjson.loads(first), dict) and "label" in row
        except orjson.JSONDecodeError:
            is_guard_format = True  # read_labelled names the line and the problem
        if is_guard_format:
            return read_labelled(path)
    labelled = open_labelled_set(labels)
    items: list[tuple[list[Message], str, str]] = []
    for item in labelled:
        if item.label_kind != LabelKind.HARMFULNESS:
            raise UsageError(f"'{labels}' has refusal labels (did the model refuse?), not safe/unsafe labels: "
                             "calibrate on a set labelled for harm, e.g. harmbench-val")
        if item.side == "prompt":
            items.append((list(item.sample.messages), "input", item.human_label))
        else:
            items.append(([*item.sample.messages, Message(role="assistant", content=item.response)], "output",
                          item.human_label))
    if not items:
        raise UsageError(f"labelled set '{labels}' has no items")
    return items


@guard_app.command("calibrate", help="Split-conformal calibration: run the policy on labelled data, write the "
                                     "policy with its conformal threshold.")
def calibrate_cmd(
    labels: str = typer.Option(..., help="A guard JSONL file ({messages | prompt, direction?, label: safe|unsafe} "
                                         "per line) or a labelled set by name or path (e.g. harmbench-val)."),
    alpha: float = typer.Option(0.1, min=0.001, max=0.999, help="Target miscoverage (1 - alpha coverage)."),
    holdout: float = typer.Option(0.0, min=0.0, max=0.9, help="Hold this fraction out (seeded) and report the "
                                                              "threshold's empirical coverage and review rate on it."),
    seed: int = typer.Option(0, help="Seed of the held-out split."),
    policy: Path | None = typer.Option(None, help="Policy YAML (default: the built-in policy)."),
    output: Path = typer.Option(..., help="Where to write the calibrated policy YAML."),
    store: str = typer.Option(DEFAULT_GUARD_STORE, help="Guard store (calibration decisions are stored too)."),
) -> None:
    chosen = _policies([policy] if policy else None)[0]
    items = read_calibration_items(labels)
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
    held_out: list[tuple[float, str]] = []
    if holdout:
        try:
            calibration_index, held_out_index = holdout_split(len(pairs), holdout, seed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        held_out = [pairs[i] for i in held_out_index]
        pairs = [pairs[i] for i in calibration_index]
    result = calibrate([score for score, _ in pairs], [label for _, label in pairs], alpha)
    abstain = sum(len(prediction_set(score, result.q)) != 1 for score, _ in pairs) / len(pairs)
    output.write_text(dump_policy(chosen.model_copy(update={"conformal": result})), encoding="utf-8")
    typer.echo(f"calibrated on {len(pairs)} of {len(items)} items (unscored items dropped): q={result.q:.4f} at "
               f"alpha={alpha:g}; review rate on the calibration set {abstain:.1%}; policy written to {output}")
    if held_out:
        check = check_coverage([score for score, _ in held_out], [label for _, label in held_out], result.q)
        typer.echo(f"held out {check.n} items (seed {seed}): coverage {check.coverage:.3f} (target >= {1 - alpha:.3f},"
                   f" standard error {check.standard_error(alpha):.3f}); review rate {check.abstention_rate:.1%}")
