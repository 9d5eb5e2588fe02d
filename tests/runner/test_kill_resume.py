"""kill -9 a run half-way, resume it, and get exactly what an uninterrupted run gets."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from helpers import write_jsonl
from openai_stub import StubServer

N = 60


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "safetyscope.cli.main", "run", *args]


def _rows(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def _results(db: Path) -> list[tuple]:
    return _rows(db, "SELECT a.sample_id, a.attack, a.status, r.text, v.label, v.refusal FROM attempts a "
                     "JOIN responses r ON r.key = a.response_key JOIN verdicts v ON v.key = a.verdict_key "
                     "ORDER BY a.sample_id")


async def _run(*args: str) -> int:
    process = await asyncio.create_subprocess_exec(*_cli(*args), stdout=asyncio.subprocess.DEVNULL)
    return await process.wait()


async def test_kill_minus_nine_then_resume_equals_uninterrupted_run(tmp_path: Path):
    prompts = [f"{'unsafe' if i % 2 else 'benign'} request {i}" for i in range(N)]
    rows = [{"id": f"s{i:03d}", "prompt": prompt, "hazard": "ncr" if i % 2 else "benign"}
            for i, prompt in enumerate(prompts)]
    dataset = write_jsonl(tmp_path / "d.jsonl", rows)
    server = await StubServer(latency_s=0.05).start()
    common = ["--target", "openai/stub", "--base-url", server.base_url, "--dataset", str(dataset), "-q",
              "--requests-in-flight", "3", "--samples-in-flight", "3"]
    killed_db = tmp_path / "killed" / "r.sqlite"
    try:
        process = await asyncio.create_subprocess_exec(*_cli(*common, "--store", str(killed_db)),
                                                       stdout=asyncio.subprocess.DEVNULL)
        committed: list[tuple] = []
        for _ in range(600):
            await asyncio.sleep(0.05)
            try:
                committed = _rows(killed_db, "SELECT sample_id FROM attempts WHERE status = 'done'")
            except sqlite3.OperationalError:  # not created or not migrated yet
                continue
            if len(committed) >= N // 3:
                break
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        assert N // 3 <= len(committed) < N, "the kill should land half-way"
        committed_ids = {row[0] for row in committed}
        run_id, status = _rows(killed_db, "SELECT run_id, status FROM runs")[0]
        assert status == "running"  # killed: no chance to mark anything

        assert await _run("--resume", run_id, "--store", str(killed_db), "-q") == 0
        calls_after_kill_run = dict(server.calls_per_prompt)

        clean_db = tmp_path / "clean" / "r.sqlite"
        server.calls_per_prompt.clear()
        assert await _run(*common, "--store", str(clean_db)) == 0
    finally:
        await server.stop()

    resumed = _results(killed_db)
    assert len(resumed) == N and len({row[0] for row in resumed}) == N  # nothing lost, nothing duplicated
    assert resumed == _results(clean_db)
    assert _rows(killed_db, "SELECT status FROM runs") == [("complete",)]
    for index, prompt in enumerate(prompts):  # a call committed before the kill was never sent again
        if f"s{index:03d}" in committed_ids:
            assert calls_after_kill_run[prompt] == 1, prompt
    assert sum(calls_after_kill_run.values()) <= N + 2 * 3 + 10  # only in-flight/unflushed work repeats
