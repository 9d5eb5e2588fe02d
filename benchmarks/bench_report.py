"""Report generation on a large synthetic store.

    python benchmarks/bench_report.py                 # 100,000 attempts
    python benchmarks/bench_report.py --attempts 5000 # a smoke check

Writes a synthetic run straight into a fresh SQLite store (25% of the attempts on benign prompts, the rest
spread over the 12 hazards and 4 attacks; about a third of unsafe prompts complied with, each with its own
~300-character reply and verdict explanation), plus a second run over the same prompts with different
outcomes. Then times, each in this process and each from an open store:

* ``report --format html``: scorecard + every attempt read, the self-contained HTML built and written;
* ``report --format md`` (scorecard only);
* ``riskcard --format html`` (12 cards: every attempt read for tallies and examples);
* ``export --format csv``;
* ``compare`` of the two runs (matching 2 × N attempts, McNemar + Holm, flips);
* with ``--browser``: the HTML report opened in headless Chromium (``browser_timing.py``): first paint, first
  rows, load, and how long filter changes, a typed search and "next page" take to update the visible rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchutil import machine  # noqa: E402
from browser_timing import measure, summary  # noqa: E402

from safetyscope.api import scorecard_for  # noqa: E402
from safetyscope.core.hashing import content_hash  # noqa: E402
from safetyscope.core.records import Generation, RefusalState, Verdict, VerdictLabel  # noqa: E402
from safetyscope.report.attempts import iter_views  # noqa: E402
from safetyscope.report.compare import compare_runs  # noqa: E402
from safetyscope.report.document import report_markdown  # noqa: E402
from safetyscope.report.export import export_csv  # noqa: E402
from safetyscope.report.grades import grade_scorecard  # noqa: E402
from safetyscope.report.html import html_report  # noqa: E402
from safetyscope.report.riskcard_render import riskcards_html  # noqa: E402
from safetyscope.report.riskcards import build_cards  # noqa: E402
from safetyscope.runner.store import AttemptRecord, Store  # noqa: E402

HAZARDS = ["vcr", "src", "cse", "ssh", "iwp", "ipv", "dfm", "ncr", "hte", "prv", "spc", "sxc"]
ATTACKS = ["none", "base64", "roleplay", "prefix"]
REFUSAL = "I'm sorry, but I can't help with that request."
BATCH = 2000


def populate(store: Store, run_id: str, attempts: int, seed: int, comply_rate: float) -> None:
    rng = random.Random(seed)
    store.create_run(run_id=run_id, spec_json="{}", target=f"synthetic/{run_id}", dataset="synthetic",
                     judge="refusal", judge_key="synthetic", planned=attempts, version="bench")
    samples = attempts // len(ATTACKS)
    responses, verdicts, records = [], [], []
    for index in range(attempts):
        sample, attack = divmod(index, len(ATTACKS))
        benign = sample % 4 == 0
        hazard = "benign" if benign else HAZARDS[sample % len(HAZARDS)]
        prompt = f"Prompt {sample} about {hazard}: " + " ".join(f"w{rng.randrange(5000)}" for _ in range(25))
        sent = prompt if attack == 0 else f"[{ATTACKS[attack]}] {prompt}"
        complied = rng.random() < (0.9 if benign else comply_rate)
        text = (f"Sure. Here is an answer to prompt {sample} ({run_id}): " +
                " ".join(f"t{rng.randrange(9000)}" for _ in range(45))) if complied else REFUSAL
        response_key = content_hash(run_id, sample, attack, "r")
        verdict_key = content_hash(run_id, sample, attack, "v")
        label = VerdictLabel.SAFE if benign or not complied else VerdictLabel.UNSAFE
        refusal = RefusalState.COMPLIED if complied else RefusalState.REFUSED
        responses.append((response_key, run_id, Generation(text=text, finish_reason="stop")))
        verdicts.append((verdict_key, "refusal", response_key, Verdict(
            label=label, refusal=refusal, confidence=0.9,
            explanation=f"The response {'complied' if complied else 'refused'} (P(refusal)={rng.random():.2f}).")))
        sample_json = orjson.dumps({"id": f"s{sample}", "messages": [{"role": "user", "content": prompt}],
                                    "hazard": hazard, "expect": "comply" if benign else "refuse"}).decode()
        records.append(AttemptRecord(
            run_id=run_id, attempt_id=content_hash(sample, attack), sample_json=sample_json, sample_id=f"s{sample}",
            dataset="synthetic", hazard=hazard, expect="comply" if benign else "refuse", language="en",
            attack=ATTACKS[attack], attack_seed=0,
            sent_json=orjson.dumps([{"role": "user", "content": sent}]).decode(), response_key=response_key,
            decoded_response=None, verdict_key=verdict_key, error=None))
        if len(records) >= BATCH or index == attempts - 1:
            store.write_batch(new_responses=responses, new_verdicts=verdicts, finished=records)
            responses, verdicts, records = [], [], []
    store.set_run_status(run_id, "complete")
    assert samples


def timed(label: str, action):  # type: ignore[no-untyped-def]
    """Run ``action``; print its wall time, this process's CPU time and the 1-minute load average after it (the
    machine is shared: a load above the core count means other jobs slowed the wall time down)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<34} {elapsed:7.2f} s wall {used:7.2f} s CPU  (load {os.getloadavg()[0]:.1f})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--browser", action="store_true", help="also open the report in headless Chromium")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store.open(str(folder / "bench.sqlite"))
        timed(f"populate 2 × {args.attempts:,} attempts", lambda: (populate(store, "A", args.attempts, 1, 0.35),
                                                                   populate(store, "B", args.attempts, 2, 0.25)))
        run = store.get_run("A")
        assert run is not None

        def html() -> int:
            card = scorecard_for(store, run)
            page = html_report(run, card, iter_views(store, "A"), grades=grade_scorecard(card), store_url=store.url)
            (folder / "report.html").write_text(page, encoding="utf-8")
            return len(page.encode())

        size = timed("report --format html", html)
        print(f"{'  HTML size':<34} {size / 2**20:7.1f} MiB")
        redacted = timed("report --format html --redact", lambda: len(html_report(
            run, scorecard_for(store, run), iter_views(store, "A"), redact=True).encode()))
        print(f"{'  redacted HTML size':<34} {redacted / 2**20:7.1f} MiB")
        timed("report --format md", lambda: report_markdown(run, scorecard_for(store, run), store.url, None))
        timed("riskcard --format html (12 cards)", lambda: len(riskcards_html(build_cards(
            run, scorecard_for(store, run), iter_views(store, "A")))))
        timed("export --format csv", lambda: export_csv("A", iter_views(store, "A"), folder / "a.csv"))
        run_b = store.get_run("B")
        assert run_b is not None
        comparison = timed("compare A B", lambda: compare_runs(store, run, run_b))
        print(f"{'  flips':<34} {len(comparison.flips):7d}")
        if args.browser:
            print("\n".join(summary(asyncio.run(measure(folder / "report.html", repeat=5, hazard="src")))))
        store.close()


if __name__ == "__main__":
    main()
