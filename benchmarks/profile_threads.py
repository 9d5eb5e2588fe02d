"""Run the safetyscope CLI under cProfile in *every* thread, timing CPU (not wall) time, and save one
merged profile.

    python benchmarks/profile_threads.py OUT.prof run --target ... --dataset ...

``python -m cProfile`` sees only the main thread, but safetyscope does its store work (lookups and batched
writes) in ``asyncio.to_thread`` worker threads; this wrapper installs a profiler in each new thread too
(``threading.setprofile``) and, with ``time.thread_time`` as the timer, reports each thread's CPU time, so
time spent waiting in ``select`` or on a queue does not show up as cost.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time

_profilers: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_thread_profiler(*_args: object) -> None:
    sys.setprofile(None)
    profiler = cProfile.Profile(time.thread_time)
    with _lock:
        _profilers.append(profiler)
    profiler.enable()


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    sys.argv = ["safetyscope", *sys.argv[2:]]
    from safetyscope.cli.main import main as cli_main  # imported outside the profile: measured separately

    threading.setprofile(_start_thread_profiler)
    main_profiler = cProfile.Profile(time.thread_time)
    code = 0
    main_profiler.enable()
    try:
        cli_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        main_profiler.disable()
        threading.setprofile(None)
        stats = pstats.Stats(main_profiler)
        with _lock:
            for profiler in _profilers:
                profiler.create_stats()
                if profiler.stats:  # type: ignore[attr-defined]
                    stats.add(profiler)
        stats.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
