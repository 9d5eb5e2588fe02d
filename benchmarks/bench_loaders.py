"""Time every named-dataset loader on the real files in ``shared/datasets``: a full ``validate()`` pass (read,
parse, map each category through the taxonomy crosswalk, build validated ``Sample`` / ``LabelledResponse``
records), best of N, plus the peak Python memory of one pass.

    python benchmarks/bench_loaders.py                 # print a Markdown table
    python benchmarks/bench_loaders.py --append        # and append it as a section of benchmarks/RESULTS.md

The data is found like ``open_dataset`` finds it (``SAFETYSCOPE_DATA``, ``SAFETYSCOPE_SHARED/datasets``,
``../shared/datasets``); loaders whose files are absent are listed as skipped. Target: the 10,000-row S-Eval zip
loaded and mapped in under 2 s.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchutil import machine  # noqa: E402

from safetyscope.core.errors import PrerequisiteError  # noqa: E402
from safetyscope.datasets import named_datasets, open_named  # noqa: E402

RESULTS = HERE / "RESULTS.md"
SECTION = "## Dataset loaders (`benchmarks/bench_loaders.py`)"
S_EVAL_BUDGET_S = 2.0


def measure(name: str, repeat: int) -> tuple[int, float, float, float] | None:
    """(rows, best wall s, best CPU s, peak MiB) of a full pass, or None when the files are absent."""
    entry = next(e for e in named_datasets() if e.name == name)
    try:
        dataset = open_named(entry)
    except PrerequisiteError:
        return None
    best_wall = best_cpu = float("inf")
    rows = 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        rows = open_named(entry).validate()  # open + full pass, as a run does before it starts
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    tracemalloc.start()
    dataset.validate()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows, best_wall, best_cpu, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="passes per loader; the best is reported")
    parser.add_argument("--append", action="store_true", help=f"append the results to {RESULTS}")
    args = parser.parse_args()
    lines = [SECTION, "", f"Machine: {machine()}. Best of {args.repeat} full `validate()` passes (open, read, "
             "parse, crosswalk mapping, record validation); peak = Python heap of one pass (tracemalloc).", "",
             "| dataset | rows | wall s | CPU s | rows/s | peak MiB |", "|---|---:|---:|---:|---:|---:|"]
    skipped: list[str] = []
    s_eval_wall = None
    for entry in named_datasets():
        result = measure(entry.name, args.repeat)
        if result is None:
            skipped.append(entry.name)
            continue
        rows, wall, cpu, peak = result
        if entry.name == "s-eval":
            s_eval_wall = wall
        lines.append(f"| `{entry.name}` | {rows:,} | {wall:.3f} | {cpu:.3f} | {rows / wall:,.0f} | {peak:.1f} |")
        print(lines[-1], flush=True)
    lines.append("")
    if skipped:
        lines.append(f"Not measured (files not on the search path; HF-only sets are tested on fixtures): "
                     f"{', '.join(skipped)}.")
    if s_eval_wall is not None:
        verdict = "meets" if s_eval_wall < S_EVAL_BUDGET_S else "MISSES"
        lines.append(f"S-Eval base EN (10,000 rows from the zip): {s_eval_wall:.3f} s, {verdict} the "
                     f"{S_EVAL_BUDGET_S:.0f} s target.")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.append:
        if RESULTS.exists():
            existing = RESULTS.read_text(encoding="utf-8")
            with RESULTS.open("a", encoding="utf-8") as handle:
                handle.write(("" if existing.endswith("\n\n") else "\n" if existing.endswith("\n") else "\n\n") + text)
        else:
            RESULTS.write_text(text, encoding="utf-8")
        print(f"appended to {RESULTS}")
    return 0 if s_eval_wall is None or s_eval_wall < S_EVAL_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
