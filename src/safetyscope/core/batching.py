"""A write-behind buffer: one background thread writes queued items in batches, so callers never wait on a commit.

Unlike ``runner/writer.py``'s ``BatchWriter`` (an asyncio task the run loop awaits, backpressure by waiting),
this one is for callers that must not wait at all (a request handler on the event loop) and for synchronous
readers that need their own writes first (``flush``). ``add`` only appends under a lock; the thread takes up
to ``batch_size`` items once ``linger_s`` has passed (or the batch is full, or a ``flush`` waits) and hands them
to ``write`` (one transaction). Items stay queued until written. A failed batch is retried item by item: an item
that fails on its own with a permanent error (:func:`permanent_error`: bad data, a duplicate key) is set aside
(logged by ``describe`` only, counted in ``dropped``) so it cannot block the items behind it; a transient error
(the store is down or locked) keeps everything queued and retries every ``retry_delay_s``. ``add`` refuses new
items (:class:`WriteBacklog`) once ``max_pending`` are queued. ``close`` writes everything still queued, then
stops the thread. Errors are logged by type and driver message only (:func:`error_summary`): SQLAlchemy's
text would include the statement's parameters, i.e. the data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError, StatementError

from safetyscope.core.errors import StoreError

T = TypeVar("T")
log = logging.getLogger("safetyscope.batching")


class WriteBacklog(StoreError):
    """Too many items wait to be written (the store is failing or too slow): refuse rather than lose them."""


def permanent_error(exc: Exception) -> bool:
    """Whether writing the same item again fails the same way (bad data or a constraint, not a sick store)."""
    if isinstance(exc, (DataError, IntegrityError, ValueError, TypeError)):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, (ValueError, TypeError))


def error_summary(exc: BaseException) -> str:
    """The error's type and driver message, never SQLAlchemy's statement parameters (the data written)."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return type(exc).__name__ if orig is None else f"{type(exc).__name__}: {type(orig).__name__}: {orig}"
    return f"{type(exc).__name__}: {exc}"


class ThreadedBatchWriter(Generic[T]):
    """Queue items for ``write`` (called with a batch, from one background thread); see the module docstring."""

    def __init__(self, write: Callable[[Sequence[T]], None], *, name: str, batch_size: int = 512,
                 linger_s: float = 0.01, max_pending: int = 100_000, retry_delay_s: float = 0.5,
                 describe: Callable[[T], str] = lambda item: type(item).__name__,
                 permanent: Callable[[Exception], bool] = permanent_error) -> None:
        if batch_size < 1 or max_pending < batch_size:
            raise ValueError("need 1 <= batch_size <= max_pending")
        self._write = write
        self._describe = describe
        self._permanent = permanent
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._max_pending = max_pending
        self._retry_delay_s = retry_delay_s
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._added = 0
        self._written = 0  # items done with: written, or set aside as unwritable
        self._dropped = 0
        self._wanted = 0  # a flush waits for items up to this count: no lingering
        self._closing = False
        self._stopped = False
        self.error: Exception | None = None  # the last failed write's error, None once a write succeeds
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Items set aside because they failed on their own with a permanent error (never written)."""
        with self._cond:
            return self._dropped

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
                why = f"last error: {error_summary(self.error)}" if self.error is not None else \
                    "the store is too slow"
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
                                 + (f" (last error: {error_summary(self.error)})" if self.error is not None else ""))

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
            why = "none" if self.error is None else error_summary(self.error)
            raise StoreError(f"{lost} items not written at close (last error: {why})")

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
            except Exception as exc:  # kept queued: a decision must not be lost to a hiccup
                log.error("write of %d items failed: %s", len(batch), error_summary(exc))
                if not self._write_singly(batch, exc):
                    with self._cond:
                        if self._stopped:  # close gave up on these items (and said so)
                            return
                        self._cond.wait(self._retry_delay_s)
                continue
            self._settle(len(batch), dropped=False)

    def _write_singly(self, batch: list[T], failure: Exception) -> bool:
        """Write a failed batch item by item, setting aside each item that fails alone with a permanent error;
        False (the rest stays queued) at the first transient failure."""
        for item in batch:
            if len(batch) > 1:
                try:
                    self._write([item])
                except Exception as exc:
                    failure = exc
                else:
                    self._settle(1, dropped=False)
                    continue
            if not self._permanent(failure):
                log.error("write failed (transient), retrying in %.1f s: %s", self._retry_delay_s,
                          error_summary(failure))
                with self._cond:
                    self.error = failure
                return False
            log.error("set aside unwritable %s: %s", self._describe(item), error_summary(failure))
            self._settle(1, dropped=True)
        return True

    def _settle(self, count: int, *, dropped: bool) -> None:
        """The first ``count`` queued items are done with (written, or set aside when ``dropped``)."""
        with self._cond:
            del self._pending[:count]
            self._written += count
            if dropped:
                self._dropped += count
            else:
                self.error = None
            self._cond.notify_all()
