"""Speed of the offline harm judges on the HarmBench classifier val set (602 items), one core.

    taskset -c 0 python benchmarks/bench_harm_judge.py [--passes 3] [--judges harm harm-embed]

Times ``HarmJudge.judge`` (features, refusal classifier, embedding bag where used, model) over every item,
after building the judge (loading is not timed); prints the best pass per judge in µs per item and items/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safetyscope.core.records import JudgeInput
from safetyscope.datasets.catalog import open_labelled_set
from safetyscope.judges import create_judge


async def one_pass(judge_name: str, inputs: list[JudgeInput]) -> float:
    """Seconds for one pass of the judge over ``inputs`` (sequential, as on one core)."""
    judge = create_judge(judge_name)
    await judge.judge(inputs[0])  # warm caches that a long run would have warm
    start = time.perf_counter()
    for item in inputs:
        await judge.judge(item)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--judges", nargs="+", default=["harm", "harm-embed"])
    parser.add_argument("--path", type=Path, default=None, help="the val-set file or folder (default: search path)")
    args = parser.parse_args()
    inputs = [JudgeInput(sample=item.sample, sent=item.sample.messages, response=item.response)
              for item in open_labelled_set("harmbench-val", path=args.path)]
    for name in args.judges:
        best = min(asyncio.run(one_pass(name, inputs)) for _ in range(args.passes))
        per_item = best / len(inputs)
        print(f"{name}: {per_item * 1e6:,.0f} us/item, {1 / per_item:,.0f} items/s "
              f"(best of {args.passes} passes over {len(inputs)} items)")


if __name__ == "__main__":
    main()
