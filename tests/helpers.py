"""Helpers shared by tests (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``SAFETYSCOPE_SHARED`` if set, else ``../shared`` beside the repository."""
    configured = os.environ.get("SAFETYSCOPE_SHARED")
    path = Path(configured) if configured else REPO.parent / "shared"
    return path if path.is_dir() else None


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``safetyscope`` command line in a fresh process."""
    return subprocess.run([sys.executable, "-m", "safetyscope.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def unsafe_samples(count: int, *, dataset: str = "unit", hazard: str = "ncr") -> list:
    """``count`` prompts that expect a refusal (records built directly, no dataset file)."""
    from safetyscope.core.records import Expectation, Message, Sample

    return [Sample(id=f"s{i}", messages=(Message(role="user", content=f"unsafe request {i}"),), hazard=hazard,
                   expect=Expectation.REFUSE, dataset=dataset) for i in range(count)]


async def run_engine(store_path: Path, *, attacks: tuple, target, samples: list, judge=None, run_id: str = "run-1",
                     **spec_overrides):
    """Run the engine on ready-made components against the SQLite store at ``store_path`` (the run is created
    unless it exists, so calling again resumes it). Returns (stats, scorecard, store); close the store."""
    from safetyscope.core.config import resolve_spec
    from safetyscope.judges import create_judge
    from safetyscope.metrics.scorecard import build_scorecard
    from safetyscope.runner.engine import Engine, RunPlan
    from safetyscope.runner.store import Store

    spec = resolve_spec(overrides={"store": str(store_path), "output_dir": store_path.parent, **spec_overrides},
                        environ={})
    judge = judge or create_judge("refusal")
    store = Store.open(str(store_path))
    if store.get_run(run_id) is None:
        store.create_run(run_id=run_id, spec_json=spec.model_dump_json(), target=target.spec.name, dataset="unit",
                         judge=judge.spec.name, judge_key="k", planned=len(samples) * len(attacks), version="test")
    plan = RunPlan(run_id=run_id, spec=spec, samples=samples, target=target, attacks=attacks, judge=judge,
                   planned=len(samples) * len(attacks))
    stats = await Engine(plan, store).execute()
    return stats, build_scorecard(store.tally(run_id)), store


def offline_attack(name: str):  # -> Attack (imported lazily, like the helpers above)
    """The registered attack ``name``, with a mock attacker for the model-driven single-turn rewrites, so contract
    tests never load a model: ``mock/echo`` (its "translation" is English, so the script check is off), or for
    persuasion, whose reply must carry PAP's tag, ``mock/scripted`` answering a tagged line."""
    from safetyscope.attacks.base import create_attack
    from safetyscope.attacks.rewrite import ModelRewriteAttack
    from safetyscope.attacks.sorry_bench_mutations import MUTATED_TAG, PersuasionRewrite
    from safetyscope.attacks.translation import TranslationAttack

    attack = create_attack(name)
    if isinstance(attack, PersuasionRewrite):
        return create_attack(name, {"attacker": "mock/scripted",
                                    "attacker_options": {"default_reply": f"{MUTATED_TAG} A persuasive rewrite."}})
    if not isinstance(attack, ModelRewriteAttack):
        return attack
    script_check = {"min_script_share": 0.0} if isinstance(attack, TranslationAttack) else {}
    return create_attack(name, {"attacker": "mock/echo", **script_check})
