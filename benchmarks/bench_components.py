"""Per-item cost of the pieces of one attempt, measured in-process without a profiler (so no profiler
overhead skews small functions). Complements ``bench_runner.py --profile``.

    python benchmarks/bench_components.py            # 10,000 items
    python benchmarks/bench_components.py --n 2000

Measured (CPU time of this process, ``time.process_time``, best of 3):

* interpreter start + imports of the CLI (a fresh ``python -c`` subprocess, wall time, vs bare ``python``),
* dataset parsing (``DatasetFile.validate``: JSONL → validated ``Sample``; ``evaluate`` parses the file twice:
  once to validate and count, once to run),
* the four content hashes of one attempt (attempt id, attack seed, response key, verdict key),
* the refusal judge on the stub server's two replies,
* ``Store.write_batch`` in batches of 256 (response + verdict + attempt rows) into a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchutil import machine  # noqa: E402
from make_dataset import write_dataset  # noqa: E402
from stub_server import COMPLIANCE, REFUSAL  # noqa: E402


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def startup_cost() -> tuple[float, float]:
    def wall(code: str) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - started)
        return best

    bare = wall("pass")
    cli = wall("import safetyscope.cli.main, safetyscope.api; from safetyscope.core.builtins import load_components; "
               "load_components()")
    return bare, cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args(argv)
    n = args.n

    from safetyscope.attacks import create_attack
    from safetyscope.core.hashing import canonical_json, content_hash
    from safetyscope.core.records import ComponentSpec, Generation, GenerationParams, JudgeInput
    from safetyscope.datasets import open_dataset
    from safetyscope.judges import create_judge
    from safetyscope.runner.engine import attack_seed, attempt_id_for
    from safetyscope.runner.store import AttemptRecord, Store

    print(f"machine: {machine()}\n{n:,} items\n")
    rows: list[tuple[str, float]] = []
    bare, cli = startup_cost()
    rows.append(("python start, bare (wall, per process)", bare * 1000))
    rows.append(("python start + CLI imports + load_components (wall, per process)", cli * 1000))

    scratch = Path(tempfile.mkdtemp(prefix="safetyscope-components-"))
    dataset = open_dataset(str(write_dataset(n, scratch / "prompts.jsonl")))
    rows.append(("dataset: parse + validate one row (done twice per run)", best_of(dataset.validate) / n * 1000))
    samples = list(dataset)

    attack = create_attack("none")
    target_spec = canonical_json(ComponentSpec(kind="target", name="openai/stub", options={})).decode()
    judge_spec = canonical_json(ComponentSpec(kind="judge", name="refusal", options={})).decode()
    params = GenerationParams()

    def hashes() -> None:
        for s in samples:
            attempt_id_for(s, attack)
            attack_seed(0, s, attack)
            content_hash(target_spec, "[]", params)
            content_hash(judge_spec, s, "[]", "reply")

    rows.append(("4 content hashes of one attempt", best_of(hashes) / n * 1000))

    judge = create_judge("refusal")
    inputs = [JudgeInput(sample=s, sent=s.messages, response=REFUSAL if i % 2 else COMPLIANCE)
              for i, s in enumerate(samples)]
    loop = asyncio.new_event_loop()

    async def judge_all() -> None:
        for item in inputs:
            await judge.judge(item)

    rows.append(("refusal judge, one response", best_of(lambda: loop.run_until_complete(judge_all())) / n * 1000))
    verdicts = [loop.run_until_complete(judge.judge(item)) for item in inputs[:2]]

    def store_writes() -> None:
        store = Store.open(str(Path(tempfile.mkdtemp(dir=scratch)) / "store.sqlite"))
        store.create_run(run_id="r", spec_json="{}", target="t", dataset="d", judge="j", planned=n, version="0")
        batch_r, batch_v, batch_a = [], [], []
        for i, s in enumerate(samples):
            rkey, vkey = f"r{i:032d}", f"v{i:032d}"
            gen = Generation(text=REFUSAL if i % 2 else COMPLIANCE, finish_reason="stop", latency_ms=1.0,
                             prompt_tokens=20, completion_tokens=30)
            batch_r.append((rkey, "openai/stub", gen))
            batch_v.append((vkey, "refusal", rkey, verdicts[i % 2]))
            batch_a.append(AttemptRecord(
                run_id="r", attempt_id=f"a{i:032d}", sample_json=s.model_dump_json(), sample_id=s.id,
                dataset=s.dataset, hazard=s.hazard, expect=s.expect.value, language=s.language, attack="none",
                attack_seed=i, sent_json="[]", response_key=rkey, decoded_response=None, verdict_key=vkey, error=None))
            if len(batch_a) == 256 or i == n - 1:
                store.write_batch(new_responses=batch_r, new_verdicts=batch_v, finished=batch_a)
                batch_r, batch_v, batch_a = [], [], []
        store.close()

    rows.append(("store: build + write one attempt (+ response + verdict rows), batches of 256",
                 best_of(store_writes) / n * 1000))
    loop.close()

    print("| component | cost |\n|---|---:|")
    for label, ms in rows:
        unit = "ms" if "per process" in label else "ms per item"
        print(f"| {label} | {ms:.3f} {unit} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
