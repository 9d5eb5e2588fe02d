"""Shared helpers for the benchmark scripts: a machine description and a check that the machine is quiet.

On a 2-core machine any other busy process distorts throughput numbers badly (and llama.cpp's OpenMP
threads degrade far more than proportionally when a core is taken), so the benchmarks sample how busy the
CPUs are just before each measurement and can wait for a quiet machine.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({cpu}); {mem_gb:.1f} GiB RAM; "
            f"Python {platform.python_version()}; {platform.system()} {platform.release()}")


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over the next ``seconds`` (0.0 idle .. 1.0 saturated); -1 if unknown."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return -1.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_for_quiet(max_busy: float, timeout_s: float, *, log=print) -> float:
    """Wait until the CPUs are at most ``max_busy`` busy (sampled over 1 s), up to ``timeout_s``.
    Returns the last sample; logs when it had to wait or gave up."""
    deadline = time.monotonic() + timeout_s
    busy = cpu_busy()
    waited = False
    while busy > max_busy and time.monotonic() < deadline:
        if not waited:
            log(f"  machine {busy:.0%} busy before the run; waiting up to {timeout_s:.0f} s for <= {max_busy:.0%}")
            waited = True
        time.sleep(4)
        busy = cpu_busy()
    if busy > max_busy:
        log(f"  WARNING: machine still {busy:.0%} busy from other processes; this measurement is disturbed")
    return busy
