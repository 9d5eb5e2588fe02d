"""Batched, serialized writes to the store from the async runner."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from safetyscope.core.records import Generation, Verdict
from safetyscope.runner.store import AttemptRecord, Store


@dataclass
class _Buffer:
    responses: list[tuple[str, str, Generation]] = field(default_factory=list)
    verdicts: list[tuple[str, str, str, Verdict]] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)


class BatchWriter:
    """Collects finished attempts and writes them in one transaction per batch, off the event loop.

    A batch is written when it reaches ``batch_size`` or every ``interval_s``; ``close`` stops the timer
    (waiting for a write in progress, never cancelling it) and writes the rest. Adding waits while a full
    batch is being written, which bounds memory. A failed write is raised from the next ``add`` or ``close``:
    the run stops rather than count attempts the store does not hold.
    """

    def __init__(self, store: Store, *, batch_size: int = 2048, interval_s: float = 0.5) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._buffer = _Buffer()
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.written = 0

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick())

    async def add(self, attempt: AttemptRecord, *, response: tuple[str, str, Generation] | None = None,
                  verdict: tuple[str, str, str, Verdict] | None = None) -> None:
        self._raise_failure()
        if response is not None:
            self._buffer.responses.append(response)
        if verdict is not None:
            self._buffer.verdicts.append(verdict)
        self._buffer.attempts.append(attempt)
        if len(self._buffer.attempts) >= self._batch_size:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, _Buffer()
            if not batch.attempts:
                return
            await asyncio.to_thread(self._store.write_batch, new_responses=batch.responses,
                                    new_verdicts=batch.verdicts, finished=batch.attempts)
            self.written += len(batch.attempts)

    async def close(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            await self._ticker
            self._ticker = None
        self._raise_failure()
        await self.flush()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _tick(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):  # the interval passed without a stop
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            try:
                await self.flush()
            except Exception as exc:  # kept, and raised to the engine from add() or close()
                self._failure = exc
                return
