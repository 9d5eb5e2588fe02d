"""Whole-process benchmarks of the safetyscope run loop.

    python benchmarks/bench_runner.py            # the full set (several minutes on 2 cores)
    python benchmarks/bench_runner.py --quick    # small sizes, a smoke check
    python benchmarks/bench_runner.py --profile  # profile the 0 ms / 10,000-prompt run
    python benchmarks/bench_runner.py --only 0ms-10k --repeat 3

Each scenario starts ``benchmarks/stub_server.py`` as its own process (except the mock-target one), then
runs ``safetyscope run --target openai/stub --base-url ... -q ...`` as a child process with a fresh store
and output directory (nothing cached), and measures, for that child only:

* wall time from ``Popen`` to exit (interpreter start, imports, dataset validation, the run, the
  scorecard and the summary files: everything a user waits for),
* CPU time (user + system) from ``os.wait4``'s rusage of the child (excludes the stub server),
* peak RSS (``ru_maxrss`` of the child).

It reports prompts/s, harness CPU ms per prompt and peak RSS MB, checks every attempt was stored as done
and that the server saw one request per prompt, and compares with the targets. The stub server's own
CPU is reported too (from its rusage when it exits), to show it was not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchutil import _cpu_times, machine, wait_for_quiet  # noqa: E402
from make_dataset import write_dataset  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    prompts: int
    latency_ms: float | None  # None: no server, mock target
    requests_in_flight: int
    samples_in_flight: int
    min_rate: float | None = None  # prompts/s
    max_cpu_ms: float | None = None  # harness CPU ms per prompt
    max_rss_mb: float | None = None
    target: str = "openai/stub"


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    rss_mb: float
    written_mb: float  # file-system output of the child (ru_oublock, 512-byte blocks): store, WAL, summaries
    exit_code: int
    done: int
    server_requests: int | None = None
    server_cpu_s: float | None = None
    busy_before: float = 0.0
    other_cpu_s: float = 0.0  # CPU used by other processes on the machine during the measurement
    stderr_tail: str = ""


@dataclass
class Result:
    scenario: Scenario
    runs: list[Measurement] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(m, attr) for m in self.runs)

    @property
    def rate(self) -> float:
        return statistics.median(self.scenario.prompts / m.wall_s for m in self.runs)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(m.cpu_s * 1000 / self.scenario.prompts for m in self.runs)

    @property
    def rss_mb(self) -> float:
        return max(m.rss_mb for m in self.runs)


def full_scenarios() -> list[Scenario]:
    return [
        Scenario("startup", "fixed cost: 10 prompts, 0 ms", 10, 0, 50, 64),
        Scenario("0ms-1k", "0 ms latency, 50 in flight, 1,000 prompts", 1_000, 0, 50, 64,
                 min_rate=300, max_cpu_ms=3),
        Scenario("0ms-10k", "0 ms latency, 50 in flight, 10,000 prompts", 10_000, 0, 50, 64,
                 min_rate=300, max_cpu_ms=3, max_rss_mb=150),
        Scenario("200ms-10k", "200 ms latency, 64 in flight, 10,000 prompts", 10_000, 200, 64, 128,
                 min_rate=0.9 * 64 / 0.2),
        Scenario("mock-200k", "mock/complier, no server, 200,000 prompts", 200_000, None, 64, 128,
                 max_rss_mb=400, target="mock/complier"),
    ]


def quick_scenarios() -> list[Scenario]:
    """Small sizes for a smoke check; no targets (they apply to the full sizes only)."""
    return [
        Scenario("startup", "fixed cost: 10 prompts, 0 ms", 10, 0, 50, 64),
        Scenario("0ms-1k", "quick: 0 ms latency, 50 in flight, 200 prompts", 200, 0, 50, 64),
        Scenario("0ms-10k", "quick: 0 ms latency, 50 in flight, 1,000 prompts", 1_000, 0, 50, 64),
        Scenario("200ms-10k", "quick: 200 ms latency, 64 in flight, 1,000 prompts", 1_000, 200, 64, 128),
        Scenario("mock-200k", "quick: mock/complier, no server, 5,000 prompts", 5_000, None, 64, 128,
                 target="mock/complier"),
    ]


# --- processes -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StubProcess:
    """The stub server in its own process; ``stop`` returns its CPU seconds (from wait4's rusage)."""

    def __init__(self, latency_ms: float) -> None:
        self.port = free_port()
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "stub_server.py"), "--port", str(self.port), "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("ready"):
            self._proc.kill()
            raise RuntimeError(f"stub server did not start: {line!r}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def requests_seen(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as reply:
            return int(orjson.loads(reply.read())["requests"])

    def stop(self) -> float:
        self._proc.send_signal(signal.SIGTERM)
        _pid, _status, usage = os.wait4(self._proc.pid, 0)
        self._proc.returncode = 0
        if self._proc.stdout:
            self._proc.stdout.close()
        return usage.ru_utime + usage.ru_stime


def safetyscope_command() -> list[str]:
    """The console script installed next to this interpreter (never a pyenv/asdf shim, whose bash wrappers
    would add their own time and child processes), else ``python -m safetyscope.cli.main``."""
    script = Path(sys.executable).parent / "safetyscope"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "safetyscope.cli.main"]


def run_args(scenario: Scenario, dataset: Path, workdir: Path, base_url: str | None) -> list[str]:
    args = ["run", "--target", scenario.target, "--dataset", str(dataset), "--store", str(workdir / "store.sqlite"),
            "--output-dir", str(workdir / "out"), "-q", "--requests-in-flight", str(scenario.requests_in_flight),
            "--samples-in-flight", str(scenario.samples_in_flight)]
    if base_url:
        args[3:3] = ["--base-url", base_url]
    return args


def count_done(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM attempts WHERE status = 'done'").fetchone()[0])


def measure_once(scenario: Scenario, dataset: Path, scratch: Path, busy_before: float = 0.0) -> Measurement:
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{scenario.key}-", dir=scratch))
    self_cpu0 = os.times()
    total0, idle0 = _cpu_times()
    server = StubProcess(scenario.latency_ms) if scenario.latency_ms is not None else None
    try:
        command = safetyscope_command() + run_args(scenario, dataset, workdir, server.base_url if server else None)
        with open(workdir / "stdout.txt", "wb") as out, open(workdir / "stderr.txt", "wb") as err:
            started = time.perf_counter()
            child = subprocess.Popen(command, stdout=out, stderr=err)
            _pid, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
        requests = server.requests_seen() if server else None
    finally:
        server_cpu = server.stop() if server else None
    total1, idle1 = _cpu_times()
    self_cpu1 = os.times()
    machine_busy_s = ((total1 - total0) - (idle1 - idle0)) / os.sysconf("SC_CLK_TCK")
    self_cpu = (self_cpu1.user + self_cpu1.system) - (self_cpu0.user + self_cpu0.system)
    child_cpu = usage.ru_utime + usage.ru_stime
    other = max(0.0, machine_busy_s - child_cpu - (server_cpu or 0.0) - self_cpu)
    stderr_tail = (workdir / "stderr.txt").read_text(errors="replace")[-2000:]
    done = count_done(workdir / "store.sqlite") if (workdir / "store.sqlite").exists() else 0
    measurement = Measurement(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, user_s=usage.ru_utime,
                              sys_s=usage.ru_stime, rss_mb=usage.ru_maxrss / 1024,
                              written_mb=usage.ru_oublock * 512 / 2**20, exit_code=child.returncode,
                              done=done, server_requests=requests, server_cpu_s=server_cpu, busy_before=busy_before,
                              other_cpu_s=other, stderr_tail=stderr_tail)
    shutil.rmtree(workdir, ignore_errors=True)
    return measurement


# --- reporting -----------------------------------------------------------------------------------------


def run_ok(scenario: Scenario, m: Measurement) -> bool:
    return m.exit_code == 0 and m.done == scenario.prompts and m.server_requests in (None, scenario.prompts)


def verdict(result: Result) -> str:
    s = result.scenario
    if not all(run_ok(s, m) for m in result.runs):
        return "INVALID: a run failed or did not store every attempt"
    parts = []
    if s.min_rate is not None:
        ok = result.rate >= s.min_rate
        parts.append(f"{'met' if ok else 'NOT met'}: rate {result.rate:.0f} vs ≥{s.min_rate:.0f}/s "
                     f"({result.rate / s.min_rate:.0%})")
    if s.max_cpu_ms is not None:
        ok = result.cpu_ms <= s.max_cpu_ms
        parts.append(f"{'met' if ok else 'NOT met'}: CPU {result.cpu_ms:.2f} vs ≤{s.max_cpu_ms:g} ms")
    if s.max_rss_mb is not None:
        ok = result.rss_mb < s.max_rss_mb
        parts.append(f"{'met' if ok else 'NOT met'}: RSS {result.rss_mb:.0f} vs <{s.max_rss_mb:.0f} MB")
    return "; ".join(parts) or "reference"


def table(results: list[Result]) -> str:
    lines = ["| scenario | prompts | wall s | prompts/s | harness CPU ms/prompt | CPU user+sys s | peak RSS MB "
             "| disk writes MB | stub CPU s | other procs CPU s | checks | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        s = r.scenario
        checks = []
        for m in r.runs:
            checks.append("ok" if run_ok(s, m)
                          else f"FAIL(exit {m.exit_code}, done {m.done}, requests {m.server_requests})")
        server_cpu = "-" if r.runs[0].server_cpu_s is None else f"{r.median('server_cpu_s'):.1f}"
        runs = f" (n={len(r.runs)}, rates {', '.join(f'{s.prompts / m.wall_s:.0f}' for m in r.runs)})" \
            if len(r.runs) > 1 else ""
        lines.append(f"| {s.label}{runs} | {s.prompts:,} | {r.median('wall_s'):.2f} | {r.rate:.0f} | {r.cpu_ms:.2f} "
                     f"| {r.median('user_s'):.2f}+{r.median('sys_s'):.2f} | {r.rss_mb:.0f} "
                     f"| {r.median('written_mb'):.0f} | {server_cpu} "
                     f"| {r.median('other_cpu_s'):.1f} | {', '.join(sorted(set(checks)))} | {verdict(r)} |")
    return "\n".join(lines)


def marginal_note(results: list[Result]) -> str:
    """CPU and wall per prompt once the fixed startup/teardown cost (the 10-prompt run) is subtracted."""
    by_key = {r.scenario.key: r for r in results}
    base = by_key.get("startup")
    if base is None or not all(run_ok(base.scenario, m) for m in base.runs):
        return ""
    lines = [f"Fixed cost (10-prompt run): {base.median('wall_s'):.2f} s wall, "
             f"{base.median('cpu_s'):.2f} s CPU, {base.rss_mb:.0f} MB."]
    for r in results:
        if r.scenario.key == "startup" or r.scenario.latency_ms is None or \
                not all(run_ok(r.scenario, m) for m in r.runs):
            continue
        n = r.scenario.prompts - base.scenario.prompts
        cpu = (r.median("cpu_s") - base.median("cpu_s")) * 1000 / n
        wall = r.median("wall_s") - base.median("wall_s")
        if wall < 0.5:  # run-to-run noise in the fixed cost is ~0.1-0.2 s: too small to separate
            lines.append(f"- {r.scenario.label}: too short to separate from the fixed cost")
            continue
        lines.append(f"- {r.scenario.label}: marginal {cpu:.2f} ms CPU per prompt, steady-state "
                     f"{n / wall:.0f} prompts/s")
    return "\n".join(lines)


# --- profiling -----------------------------------------------------------------------------------------


def print_profile(path: Path, title: str, top: int = 25) -> None:
    for sort in ("cumulative", "tottime"):
        print(f"\n### {title}: top {top} by {sort}\n", flush=True)
        stats = pstats.Stats(str(path))
        stats.strip_dirs().sort_stats(sort).print_stats(top)
        sys.stdout.flush()


def profile(scenario: Scenario, dataset: Path, scratch: Path, keep: Path | None, max_busy: float = 1.0,
            wait_s: float = 0.0) -> None:
    outdir = keep or scratch
    outdir.mkdir(parents=True, exist_ok=True)
    variants = [
        ("main thread, wall time (python -m cProfile)", "cprofile-main.prof",
         lambda out: [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "safetyscope.cli.main"]),
        ("all threads, CPU time (benchmarks/profile_threads.py)", "cprofile-threads.prof",
         lambda out: [sys.executable, str(HERE / "profile_threads.py"), str(out)]),
    ]
    for title, filename, prefix in variants:
        workdir = Path(tempfile.mkdtemp(prefix="profile-", dir=scratch))
        wait_for_quiet(max_busy, wait_s)
        server = StubProcess(scenario.latency_ms or 0)
        out = outdir / filename
        try:
            command = prefix(out) + run_args(scenario, dataset, workdir, server.base_url)
            started = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True)
            wall = time.perf_counter() - started
        finally:
            server.stop()
        print(f"\n## Profile of '{scenario.label}', {title}: {wall:.1f} s wall under the profiler, "
              f"exit {completed.returncode}; saved to {out}", flush=True)
        if completed.returncode != 0:
            print(completed.stderr[-3000:])
        print_profile(out, title)
        shutil.rmtree(workdir, ignore_errors=True)


# --- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check in well under a minute")
    parser.add_argument("--only", action="append", default=None,
                        help="run only these scenario keys (startup, 0ms-1k, 0ms-10k, 200ms-10k, mock-200k)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; the table shows medians")
    parser.add_argument("--profile", action="store_true",
                        help="profile the 0 ms / 10,000-prompt run instead of benchmarking")
    parser.add_argument("--keep-profiles", type=Path, default=None, help="directory to keep the .prof files in")
    parser.add_argument("--max-busy", type=float, default=0.15,
                        help="before each run, wait until the CPUs are at most this busy (fraction, 1 s sample)")
    parser.add_argument("--wait-quiet", type=float, default=900, help="longest wait for a quiet machine, s")
    parser.add_argument("--scratch", type=Path, default=None, help="where datasets and stores go (default: a temp dir)")
    args = parser.parse_args(argv)

    scenarios = quick_scenarios() if args.quick else full_scenarios()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="safetyscope-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}\nsafetyscope: {' '.join(safetyscope_command())}\nscratch: {scratch}\n", flush=True)

    datasets: dict[int, Path] = {}

    def dataset_for(n: int) -> Path:
        if n not in datasets:
            datasets[n] = write_dataset(n, scratch / f"prompts-{n}.jsonl")
        return datasets[n]

    try:
        if args.profile:
            scenario = next(s for s in scenarios if s.key == "0ms-10k")
            profile(scenario, dataset_for(scenario.prompts), scratch, args.keep_profiles, args.max_busy,
                    args.wait_quiet)
            return 0
        if args.only:
            scenarios = [s for s in scenarios if s.key in args.only]
        results = []
        for scenario in scenarios:
            result = Result(scenario)
            for attempt in range(args.repeat):
                path = dataset_for(scenario.prompts)
                busy = wait_for_quiet(args.max_busy, args.wait_quiet)
                m = measure_once(scenario, path, scratch, busy)
                result.runs.append(m)
                print(f"{scenario.key} #{attempt + 1}: {m.wall_s:.2f} s wall, {scenario.prompts / m.wall_s:.0f} "
                      f"prompts/s, CPU {m.cpu_s:.2f} s ({m.cpu_s * 1000 / scenario.prompts:.2f} ms/prompt), "
                      f"RSS {m.rss_mb:.0f} MB, wrote {m.written_mb:.0f} MB, exit {m.exit_code}, done {m.done}, "
                      f"server requests "
                      f"{m.server_requests}, server CPU {m.server_cpu_s}, machine {m.busy_before:.0%} busy before, "
                      f"other processes {m.other_cpu_s:.1f} s CPU during", flush=True)
                if m.exit_code != 0:
                    print(m.stderr_tail, flush=True)
            results.append(result)
        print("\n" + table(results) + "\n")
        note = marginal_note(results)
        if note:
            print(note)
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
