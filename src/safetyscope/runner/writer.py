"""Batched, serialized writes to the store from the async runner."""

from __future__ import annotations

import asyncio
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

    A batch is written when it reaches ``batch_size`` or every ``interval_s``; ``close`` writes the rest.
    Adding waits while a full batch is being written, which bounds memory.
    """

    def __init__(self, store: Store, *, batch_size: int = 2048, interval_s: float = 0.5) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._buffer = _Buffer()
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick())

    async def add(self, attempt: AttemptRecord, *, response: tuple[str, str, Generation] | None = None,
                  verdict: tuple[str, str, str, Verdict] | None = None) -> None:
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
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.flush()
