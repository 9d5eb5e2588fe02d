"""Embedded-model generation throughput: safetyscope's ``embedded/smollm2-135m`` target vs llama-cpp-python
called directly, on the same prompts and settings.

    python benchmarks/bench_embedded.py              # 20 prompts x 3 rounds each way
    python benchmarks/bench_embedded.py --rounds 5 --threads 2

Both sides load the same GGUF file (``resolve_model_path("smollm2-135m")``) with ``n_ctx=2048`` and the
same thread count, and generate with ``max_tokens=64, temperature=0, seed=0`` and no system prompt.
Both are warmed up first (model load plus two generations each). Then the rounds alternate the order
(safetyscope first in even rounds, llama.cpp first in odd ones) so drift on the machine (thermal,
neighbours) hits both equally. Calls run strictly one at a time, never both sides at once.

Reported: generated tokens (``usage.completion_tokens``) per second of wall time around each call, per
side, the safetyscope/direct ratio, and whether both produced the same text (they should, greedy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import _cpu_times, machine, wait_for_quiet

PROMPTS = (
    "What is the capital of France, and why is it famous?",
    "Explain photosynthesis in simple terms.",
    "Give me three tips for learning a new language.",
    "Write a short poem about the sea.",
    "How does a bicycle stay upright while moving?",
    "Summarise the plot of a typical detective story.",
    "What are the health benefits of regular walking?",
    "Describe how to make a cup of tea.",
    "Why is the sky blue?",
    "List some good habits for better sleep.",
    "What is the difference between weather and climate?",
    "Explain what a computer's CPU does.",
    "Suggest a name for a friendly robot and explain it.",
    "How do vaccines help the immune system?",
    "What should I pack for a weekend hiking trip?",
    "Explain the rules of chess in a few sentences.",
    "What is a prime number? Give examples.",
    "How can I save money on groceries?",
    "Describe the water cycle.",
    "Write a polite email declining a meeting invitation.",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the prompts per side (alternating)")
    parser.add_argument("--threads", type=int, default=2, help="n_threads for both sides")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-busy", type=float, default=0.15,
                        help="before each pass, wait until the CPUs are at most this busy (fraction)")
    parser.add_argument("--wait-quiet", type=float, default=900, help="longest wait for a quiet machine, s")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="use the first N prompts")
    args = parser.parse_args(argv)

    from llama_cpp import Llama

    from safetyscope.core.records import GenerationParams, Message
    from safetyscope.targets import create_target
    from safetyscope.targets.embedded import resolve_model_path

    prompts = PROMPTS[: args.prompts]
    path = resolve_model_path("smollm2-135m")
    params = GenerationParams(max_tokens=args.max_tokens, temperature=0, seed=0)
    print(f"machine: {machine()}")
    print(f"model: {path} ({path.stat().st_size / 2**20:.0f} MiB); {len(prompts)} prompts; "
          f"max_tokens={args.max_tokens}; n_threads={args.threads}; {args.rounds} rounds each way", flush=True)

    loop = asyncio.new_event_loop()
    target = create_target("embedded/smollm2-135m", {"n_threads": args.threads})
    direct = Llama(model_path=str(path), n_ctx=2048, n_threads=args.threads, verbose=False)

    def via_safetyscope(prompt: str) -> tuple[str, int, float]:
        started = time.perf_counter()
        gen = loop.run_until_complete(target.generate((Message(role="user", content=prompt),), params))
        return gen.text, gen.completion_tokens or 0, time.perf_counter() - started

    def via_direct(prompt: str) -> tuple[str, int, float]:
        started = time.perf_counter()
        out = direct.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                            max_tokens=args.max_tokens, temperature=0, seed=0)
        text = out["choices"][0]["message"].get("content") or ""
        return text, out["usage"]["completion_tokens"], time.perf_counter() - started

    sides = {"safetyscope": via_safetyscope, "llama-cpp direct": via_direct}
    for name, call in sides.items():  # warm-up: loads the model (safetyscope loads lazily) and caches
        started = time.perf_counter()
        for prompt in prompts[:2]:
            call(prompt)
        print(f"warm-up {name}: {time.perf_counter() - started:.2f} s", flush=True)

    clk = os.sysconf("SC_CLK_TCK")

    def measured(name: str, prompt: str) -> tuple[str, int, float, float]:
        """One call, plus the CPU seconds other processes used meanwhile (from /proc/stat)."""
        total0, idle0 = _cpu_times()
        own0 = os.times()
        text, n, dt = sides[name](prompt)
        total1, idle1 = _cpu_times()
        own1 = os.times()
        busy_s = ((total1 - total0) - (idle1 - idle0)) / clk
        return text, n, dt, max(0.0, busy_s - ((own1.user + own1.system) - (own0.user + own0.system)))

    # Calls are interleaved prompt by prompt (A,B then B,A ...), so a burst of load from another process
    # hits both sides alike; a pair counts as "clean" when other processes used < 10% of a core during
    # both of its calls (jiffy resolution: 10 ms).
    calls: list[dict[str, object]] = []
    texts: dict[str, dict[str, str]] = {name: {} for name in sides}
    names = list(sides)
    for round_ in range(args.rounds):
        wait_for_quiet(args.max_busy, args.wait_quiet)
        round_calls = []
        for i, prompt in enumerate(prompts):
            order = names if (round_ + i) % 2 == 0 else names[::-1]
            pair = {}
            for name in order:
                text, n, dt, other = measured(name, prompt)
                texts[name].setdefault(prompt, text)
                pair[name] = (n, dt, other)
            clean = all(other <= 0.1 * dt + 0.02 for _n, dt, other in pair.values())
            round_calls.append({"prompt": prompt, "pair": pair, "clean": clean})
        calls.extend(round_calls)
        summary = []
        for name in names:
            tokens = sum(c["pair"][name][0] for c in round_calls)
            seconds = sum(c["pair"][name][1] for c in round_calls)
            other = sum(c["pair"][name][2] for c in round_calls)
            summary.append(f"{name} {tokens / seconds:.1f} tokens/s (others used {other:.1f} s CPU)")
        print(f"round {round_ + 1}: " + "; ".join(summary) +
              f"; clean pairs {sum(c['clean'] for c in round_calls)}/{len(round_calls)}", flush=True)

    loop.run_until_complete(target.aclose())
    loop.close()
    direct.close()

    def rate(name: str, subset: list[dict[str, object]]) -> tuple[int, float, float]:
        tokens = sum(c["pair"][name][0] for c in subset)
        seconds = sum(c["pair"][name][1] for c in subset)
        return tokens, seconds, tokens / seconds if seconds else float("nan")

    clean = [c for c in calls if c["clean"]]
    same = sum(texts[names[0]][p] == texts[names[1]][p] for p in prompts)
    print(f"\n{len(calls)} prompt pairs, {len(clean)} clean (other processes < 10% of a core during both calls)\n")
    print("| path | tokens (all) | seconds (all) | tokens/s (all pairs) | tokens/s (clean pairs) |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        tokens, seconds, all_rate = rate(name, calls)
        print(f"| {name} | {tokens} | {seconds:.2f} | {all_rate:.1f} | {rate(name, clean)[2]:.1f} |")
    ratio_all = rate(names[0], calls)[2] / rate(names[1], calls)[2]
    ratio_clean = rate(names[0], clean)[2] / rate(names[1], clean)[2] if clean else float("nan")
    pair_ratios = [(c["pair"][names[1]][1] / c["pair"][names[1]][0]) / (c["pair"][names[0]][1] / c["pair"][names[0]][0])
                   for c in (clean or calls) if c["pair"][names[0]][0] and c["pair"][names[1]][0]]
    headline = ratio_clean if clean else ratio_all
    print(f"\nratio safetyscope / direct: {headline:.1%} on clean pairs ({ratio_all:.1%} on all pairs; median "
          f"per-prompt ratio {statistics.median(pair_ratios):.1%}); target >= 85%: "
          f"{'met' if headline >= 0.85 else 'NOT met'}; identical outputs on {same}/{len(prompts)} prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
