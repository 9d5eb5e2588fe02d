"""A write-behind buffer: one background thread writes queued items in batches, so callers never wait on a commit.

Unlike ``runner/writer.py``'s ``BatchWriter`` (an asyncio task the run loop awaits, backpressure by waiting),
this one is for callers that must not wait at all (a request handler on the event loop) and for synchronous
readers that need their own writes first (``flush``). ``add`` only appends under a lock; the thread takes up
to ``batch_size`` items once ``linger_s`` has passed (or the batch is full, or a ``flush`` waits) and hands them
to ``write`` (one transaction). Items stay queued until ``write`` returns: a failed write is logged and retried
every ``retry_delay_s`` with nothing dropped, and ``add`` refuses new items (:class:`WriteBacklog`) once
``max_pending`` are queued. ``close`` writes everything still queued, then stops the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from safetyscope.core.errors import StoreError

T = TypeVar("T")
log = logging.getLogger("safetyscope.batching")


class WriteBacklog(StoreError):
    """Too many items wait to be written (the store is failing or too slow): refuse rather than lose them."""


class ThreadedBatchWriter(Generic[T]):
    """Queue items for ``write`` (called with a batch, from one background thread); see the module docstring."""

    def __init__(self, write: Callable[[Sequence[T]], None], *, name: str, batch_size: int = 512,
                 linger_s: float = 0.01, max_pending: int = 100_000, retry_delay_s: float = 0.5) -> None:
        if batch_size < 1 or max_pending < batch_size:
            raise ValueError("need 1 <= batch_size <= max_pending")
        self._write = write
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._max_pending = max_pending
        self._retry_delay_s = retry_delay_s
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._added = 0
        self._written = 0
        self._wanted = 0  # a flush waits for items up to this count: no lingering
        self._closing = False
        self._stopped = False
        self.error: Exception | None = None  # the last failed write's error, None once a write succeeds
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Items queued and not yet written."""
        with self._cond:
            return len(self._pending)

    def add(self, item: T) -> None:
        """Queue one item; never blocks on a write. :class:`WriteBacklog` when ``max_pending`` are queued."""
        with self._cond:
            if self._closing:
                raise StoreError("the writer is closed")
            if len(self._pending) >= self._max_pending:
                why = f"last error: {self.error}" if self.error is not None else "the store is too slow"
                raise WriteBacklog(f"{len(self._pending)} items wait to be written ({why})")
            self._pending.append(item)
            self._added += 1
            self._cond.notify_all()

    def flush(self, timeout_s: float | None = 30.0) -> None:
        """Block until every item added before this call is written; :class:`StoreError` if that fails in
        ``timeout_s`` (the items stay queued)."""
        with self._cond:
            target = self._added
            self._wanted = max(self._wanted, target)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._written >= target or self._stopped, timeout_s) \
                    or self._written < target:
                raise StoreError(f"{target - self._written} items not written within {timeout_s} s"
                                 + (f" (last error: {self.error})" if self.error is not None else ""))

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued and stop the thread; :class:`StoreError` naming how many items were not
        written when the store keeps failing past ``timeout_s``."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            lost = len(self._pending)
        if lost:
            raise StoreError(f"{lost} items not written at close (last error: {self.error})")

    def _take(self) -> list[T] | None:
        """The next batch (left queued until written), or None when closing with nothing left."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._pending) or self._closing)
            if not self._pending:
                return None
            # let a batch build up, unless it is full already or someone waits for it
            self._cond.wait_for(lambda: len(self._pending) >= self._batch_size or self._closing
                                or self._wanted > self._written, self._linger_s)
            return self._pending[: self._batch_size]

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._write(batch)
            except Exception as exc:  # kept queued and retried: a decision must not be lost to a hiccup
                log.error("write of %d items failed, retrying in %.1f s: %s", len(batch), self._retry_delay_s, exc)
                with self._cond:
                    self.error = exc
                    if self._stopped:  # close gave up on these items (and said so)
                        return
                    self._cond.wait(self._retry_delay_s)
                continue
            with self._cond:
                del self._pending[: len(batch)]
                self._written += len(batch)
                self.error = None
                self._cond.notify_all()
