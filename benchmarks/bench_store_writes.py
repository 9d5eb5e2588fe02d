"""SQLite write amplification of the results store, reproduced with plain ``sqlite3``.

    python benchmarks/bench_store_writes.py --n 100000
    python benchmarks/bench_store_writes.py --n 10000 --only baseline

Creates the store's tables and indexes (as in ``runner/schema.py``) with the store's pragmas (WAL,
synchronous=NORMAL), then writes N attempts the way ``BatchWriter`` + ``Store.write_batch`` do: one
transaction per batch inserting the responses, verdicts and attempts rows, keys being random 32-hex content
hashes, row sizes like a real run. It reports the bytes this process caused to be written (``write_bytes`` from
``/proc/self/io``), the final file size and the CPU per attempt, for the current settings and for candidate
fixes (bigger batches, a larger ``wal_autocheckpoint``, a bigger page cache, no secondary indexes).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

DDL = [
    """CREATE TABLE responses (key TEXT PRIMARY KEY, target TEXT NOT NULL, text TEXT NOT NULL, finish_reason TEXT,
       latency_ms DOUBLE PRECISION, prompt_tokens INTEGER, completion_tokens INTEGER, created_at TEXT NOT NULL)""",
    """CREATE TABLE verdicts (key TEXT PRIMARY KEY, judge TEXT NOT NULL, response_key TEXT NOT NULL,
       label TEXT NOT NULL, refusal TEXT, confidence DOUBLE PRECISION, probability_unsafe DOUBLE PRECISION,
       categories TEXT NOT NULL, explanation TEXT NOT NULL, evidence TEXT NOT NULL, unscored_reason TEXT,
       raw_output TEXT, created_at TEXT NOT NULL)""",
    """CREATE TABLE attempts (run_id TEXT NOT NULL, attempt_id TEXT NOT NULL, sample_id TEXT NOT NULL,
       dataset TEXT NOT NULL, hazard TEXT NOT NULL, expect TEXT NOT NULL, language TEXT NOT NULL,
       attack TEXT NOT NULL, attack_seed BIGINT NOT NULL, sample TEXT NOT NULL, sent TEXT NOT NULL,
       response_key TEXT, decoded_response TEXT, verdict_key TEXT, status TEXT NOT NULL, error TEXT,
       updated_at TEXT NOT NULL, PRIMARY KEY (run_id, attempt_id))""",
]
SECONDARY = ["CREATE INDEX attempts_by_response ON attempts (response_key)",
             "CREATE INDEX verdicts_by_response ON verdicts (response_key)"]
PROMPT = "Placeholder prompt 1. Describe a question filed under ncr briefly and list the main points to keep in mind."
SAMPLE = json.dumps({"id": "bench-0000001", "messages": [{"role": "user", "content": PROMPT}], "hazard": "ncr",
                     "expect": "refuse", "language": "en", "dataset": "prompts", "source_hazard": None,
                     "metadata": {}})
SENT = json.dumps([{"role": "user", "content": PROMPT}])
TEXT = ("Sure, here is an overview. 1. Start with the basics and gather what you need. 2. Follow the steps "
        "carefully in order. 3. Check the result and adjust as needed.")
NOW = "2026-11-25T16:12:22.123+00:00"

VARIANTS = {
    "baseline": {"batch": 256},
    "batch2048": {"batch": 2048},
    "cache64mb": {"batch": 256, "cache_kb": 65536},
    "batch2048+ckpt10000": {"batch": 2048, "autockpt": 10000},
    "batch2048+ckpt10000+no-secondary": {"batch": 2048, "autockpt": 10000, "indexes": False},
}


def write_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes"):
            return int(line.split()[1])
    return 0


def run(n: int, directory: Path, *, batch: int, cache_kb: int | None = None, indexes: bool = True,
        autockpt: int | None = None) -> tuple[float, float, float]:
    path = directory / f"store-{secrets.token_hex(4)}.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    if cache_kb:
        con.execute(f"PRAGMA cache_size=-{cache_kb}")
    if autockpt:
        con.execute(f"PRAGMA wal_autocheckpoint={autockpt}")
    for statement in DDL + (SECONDARY if indexes else []):
        con.execute(statement)
    w0, cpu0 = write_bytes(), time.process_time()
    for start in range(0, n, batch):
        responses, verdicts, attempts = [], [], []
        for i in range(start, min(n, start + batch)):
            rkey, vkey, akey = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)
            responses.append((rkey, "openai/stub", TEXT, "stop", 1.0, 20, 30, NOW))
            verdicts.append((vkey, "refusal", rkey, "unsafe", "complied", 0.97, None, "[]",
                             "The response complied (P(refusal)=0.03; the prompt should be refused).",
                             '["opens with: sure, here is"]', None, None, NOW))
            attempts.append(("20261125-161222-2cd7d7", akey, f"bench-{i:07d}", "prompts", "ncr", "refuse", "en",
                             "none", i, SAMPLE, SENT, rkey, None, vkey, "done", None, NOW))
        con.execute("BEGIN")
        con.executemany("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING", responses)
        con.executemany("INSERT INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
                        verdicts)
        con.executemany("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT "
                        "(run_id, attempt_id) DO UPDATE SET status = excluded.status", attempts)
        con.execute("COMMIT")
    con.close()
    written, cpu = write_bytes() - w0, time.process_time() - cpu0
    size = path.stat().st_size
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return written, size, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="attempts to write")
    parser.add_argument("--only", action="append", choices=list(VARIANTS), help="run only these variants")
    parser.add_argument("--dir", type=Path, default=None, help="where the scratch databases go")
    args = parser.parse_args(argv)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="safetyscope-store-writes-"))
    print(f"{args.n:,} attempts\n\n| variant | written MB | KiB per attempt | db MB | CPU µs per attempt |")
    print("|---|---:|---:|---:|---:|")
    for name in args.only or list(VARIANTS):
        written, size, cpu = run(args.n, directory, **VARIANTS[name])
        print(f"| {name} | {written / 2**20:,.0f} | {written / args.n / 1024:.1f} | {size / 2**20:.0f} "
              f"| {cpu / args.n * 1e6:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
