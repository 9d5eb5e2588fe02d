"""Benchmark the guard service over real loopback HTTP with the built-in offline policy.

    python benchmarks/bench_guard.py [--seconds 10] [--concurrency 32] [--rate 100] [--profile] [--json PATH]
                                     [--server-arg=--no-write-behind ...]

What it does:

1. Starts ``benchmarks/stub_server.py`` (an OpenAI-compatible upstream, 0 ms latency) and a real
   ``safetyscope guard serve`` (uvicorn) with the default policy, a fresh SQLite store and ``--upstream``
   pointing at the stub, each as its own process on 127.0.0.1.
2. Throughput: an aiohttp client keeps ``--concurrency`` requests in flight for ``--seconds`` against
   ``POST /v1/guard`` (input direction) and then ``POST /v1/moderations``; prompts cycle through the starter
   suite. Reports decisions/s and the client-side p50/p99 latency.
3. Proxy overhead: an open-loop schedule at ``--rate`` requests/s for ``--seconds``, first straight to the
   upstream's ``/v1/chat/completions``, then through the guard's ``/v1/chat/completions`` (input screen,
   upstream call, output screen). The added latency is proxy minus direct, at p50 and p99.
4. ``--profile`` runs the guard server under cProfile and prints where its time went.
5. In process (``--in-process N``): the ``prompt-harm`` expert alone, then ``GuardEngine.check`` set up as the
   service runs it (experts built, weights in memory, decisions queued for the store's background writer), one
   at a time and 32 at once.

The server runs as ``safetyscope guard serve`` does by default: no access log, uvloop and httptools when
installed. For a before/after comparison run an older checkout's copy of this script (its server comes from its
own ``src``).

Every response is checked (HTTP 200 and the expected body); failures are counted and reported, never
silently dropped from the latency figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchutil import cpu_busy, machine  # noqa: E402

from safetyscope.datasets.catalog import open_dataset  # noqa: E402

Call = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered) + 0.5) - 1))]


async def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f} s")


async def closed_loop(call: Call, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` workers call back to back for ``seconds`` (after a 1 s warm-up)."""
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(concurrency):  # warm-up: connections open, experts built
            await call(session, i)
        stop = time.perf_counter() + seconds
        counter = iter(range(10**9))

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < stop:
                start = time.perf_counter()
                ok = await call(session, next(counter))
                latencies.append((time.perf_counter() - start) * 1000.0)
                failures += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"requests": len(latencies), "failures": failures, "seconds": round(elapsed, 2),
            "per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2)}


async def open_loop(call: Call, rate: float, seconds: float) -> dict[str, Any]:
    """Requests started on a fixed schedule of ``rate`` per second (latency includes any queueing)."""
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for i in range(10):
            await call(session, i)

        async def one(i: int) -> None:
            nonlocal failures
            start = time.perf_counter()
            ok = await call(session, i)
            latencies.append((time.perf_counter() - start) * 1000.0)
            failures += not ok

        began = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return {"requests": len(latencies), "failures": failures, "rate": rate,
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2)}


def calls(guard: str, upstream: str, prompts: list[str]) -> dict[str, Call]:
    """The request kinds, each returning whether the response was what it should be."""

    async def guard_call(session: aiohttp.ClientSession, i: int) -> bool:
        body = {"messages": [{"role": "user", "content": prompts[i % len(prompts)]}], "direction": "input"}
        async with session.post(f"{guard}/v1/guard", json=body) as response:
            data = await response.json()
            return response.status == 200 and data.get("action") in ("allow", "block", "review")

    async def moderation_call(session: aiohttp.ClientSession, i: int) -> bool:
        async with session.post(f"{guard}/v1/moderations", json={"input": prompts[i % len(prompts)]}) as response:
            data = await response.json()
            return response.status == 200 and len(data.get("results", ())) == 1

    def chat(base: str) -> Call:
        async def chat_call(session: aiohttp.ClientSession, i: int) -> bool:
            body = {"model": "stub", "messages": [{"role": "user", "content": prompts[i % len(prompts)]}]}
            async with session.post(f"{base}/v1/chat/completions", json=body) as response:
                await response.read()
                return response.status == 200

        return chat_call

    return {"guard": guard_call, "moderations": moderation_call, "direct": chat(upstream), "proxy": chat(guard)}


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def profile_report(path: Path, top: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def measure(args: argparse.Namespace, guard: str, upstream: str, prompts: list[str]) -> dict[str, Any]:
    kinds = calls(guard, upstream, prompts)
    results: dict[str, Any] = {}
    for name in ("guard", "moderations"):
        busy = cpu_busy(0.5)
        results[name] = {**await closed_loop(kinds[name], args.concurrency, args.seconds), "cpu_busy_before": busy}
        print(f"{name:<12} {results[name]}", flush=True)
    if not args.skip_proxy:
        for name in ("direct", "proxy"):
            busy = cpu_busy(0.5)
            results[name] = {**await open_loop(kinds[name], args.rate, args.seconds), "cpu_busy_before": busy}
            print(f"{name:<12} {results[name]}", flush=True)
        results["added_ms"] = {q: round(results["proxy"][q] - results["direct"][q], 2) for q in ("p50_ms", "p99_ms")}
        print(f"proxy adds   {results['added_ms']}", flush=True)
    return results


async def in_process(prompts: list[str], count: int, store: Path) -> dict[str, Any]:
    """The same decisions without HTTP: the experts alone, then ``GuardEngine.check`` as the service runs it (built
    experts, weights in memory, decisions written behind), one at a time and 32 at once; shows how much of a
    request is the guard itself. The queue is written out (and timed) before the figures are taken."""
    from safetyscope.core.records import Message
    from safetyscope.guard.engine import GuardEngine
    from safetyscope.guard.policy import default_policy
    from safetyscope.guard.store import GuardStore
    from safetyscope.judges.prompt_harm import PromptHarmClassifier

    classifier = PromptHarmClassifier()
    start = time.perf_counter()
    for i in range(count):
        classifier.classify(prompts[i % len(prompts)])
    expert_us = (time.perf_counter() - start) / count * 1e6
    engine = GuardEngine(default_policy(), GuardStore.open(str(store)))
    engine.store.start_writer()
    await engine.start()
    turns = [[Message(role="user", content=p)] for p in prompts]
    await engine.check(turns[0], "input")
    start = time.perf_counter()
    for i in range(count):
        await engine.check(turns[i % len(turns)], "input")
    engine.store.flush()
    sequential = count / (time.perf_counter() - start)
    batches = max(1, count // 32)
    start = time.perf_counter()
    for base in range(batches):
        await asyncio.gather(*(engine.check(turns[(base * 32 + j) % len(turns)], "input") for j in range(32)))
    engine.store.flush()
    concurrent = batches * 32 / (time.perf_counter() - start)
    stored = len(engine.store.list_decisions(limit=3 * count + 64))
    engine.store.close()
    if stored != count + batches * 32 + 1:
        raise RuntimeError(f"{stored} decisions stored, expected {count + batches * 32 + 1}")
    return {"expert_us_per_prompt": round(expert_us, 1), "engine_sequential_per_s": round(sequential, 1),
            "engine_concurrent32_per_s": round(concurrent, 1), "decisions": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s for the proxy-latency phase")
    parser.add_argument("--skip-proxy", action="store_true", help="only the /v1/guard and /v1/moderations phases")
    parser.add_argument("--profile", action="store_true", help="run the guard server under cProfile")
    parser.add_argument("--in-process", type=int, default=2000, metavar="N",
                        help="also time N decisions in process, without HTTP (0: skip)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="an extra argument for 'guard serve', e.g. --server-arg=--no-write-behind (repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    prompts = [sample.prompt for sample in open_dataset("starter")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        up_port, guard_port = free_port(), free_port()
        upstream_url, guard_url = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{guard_port}"
        stub = start([sys.executable, str(ROOT / "benchmarks" / "stub_server.py"), "--port", str(up_port)], env,
                     work / "stub.log")
        profile = work / "guard.prof"
        prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)] if args.profile else [sys.executable]
        server = start([*prefix, "-m", "safetyscope.cli.main", "guard", "serve", "--port", str(guard_port),
                        "--store", str(work / "guard.sqlite"), "--upstream", f"{upstream_url}/v1",
                        *args.server_arg], env,
                       work / "guard.log")
        try:
            asyncio.run(wait_ready(f"{upstream_url}/v1/models"))
            asyncio.run(wait_ready(f"{guard_url}/healthz"))
            print(f"machine: {machine()}", flush=True)
            results = asyncio.run(measure(args, guard_url, upstream_url, prompts))
        finally:
            # uvicorn re-raises SIGTERM after its graceful shutdown, which would skip cProfile's write; SIGINT ends
            # in KeyboardInterrupt → exit 130, and the profile is written
            stop(server, signal.SIGINT if args.profile else signal.SIGTERM)
            stop(stub)
            log = (work / "guard.log").read_text(errors="replace")
        if server.returncode not in (0, None, 130, -signal.SIGTERM):
            print(f"guard server exited {server.returncode}:\n{log[-3000:]}")
        if args.profile and profile.exists():
            print(profile_report(profile))
        if args.in_process:
            results["in_process"] = asyncio.run(in_process(prompts, args.in_process, work / "inproc.sqlite"))
            print(f"in process   {results['in_process']}", flush=True)
    results["machine"] = machine()
    results["settings"] = {"seconds": args.seconds, "concurrency": args.concurrency, "rate": args.rate,
                           "server_args": args.server_arg,
                           "policy": "default (prompt-harm input, exchange-harm output)", "store": "SQLite (temp)"}
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
