"""The write-behind batch writer: batches, flush, close, failures retried without loss, backlog refusal."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from safetyscope.core.batching import ThreadedBatchWriter, WriteBacklog
from safetyscope.core.errors import StoreError


class Sink:
    """A ``write`` that records batches; it can be held (blocks) or made to fail a number of times."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.failures = failures
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: Sequence[int]) -> None:
        self.calls += 1
        self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.batches.append(list(batch))

    @property
    def items(self) -> list[int]:
        return [item for batch in self.batches for item in batch]


def test_everything_added_is_written_in_order_in_bounded_batches() -> None:
    sink = Sink()
    writer = ThreadedBatchWriter(sink, name="t", batch_size=7, linger_s=0.05)
    for i in range(100):
        writer.add(i)
    writer.flush()
    assert sink.items == list(range(100)) and writer.pending == 0
    assert max(len(batch) for batch in sink.batches) <= 7
    assert len(sink.batches) < 100  # lingering groups items
    writer.close()


def test_add_never_waits_for_a_write_in_progress() -> None:
    sink = Sink()
    sink.gate.clear()  # every write blocks until released
    writer = ThreadedBatchWriter(sink, name="t", batch_size=4, linger_s=0.0)
    writer.add(0)
    deadline = time.monotonic() + 5
    while sink.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.perf_counter()
    for i in range(1, 50):
        writer.add(i)
    assert time.perf_counter() - started < 0.5 and writer.pending == 50
    with pytest.raises(StoreError, match="not written within"):
        writer.flush(timeout_s=0.05)
    sink.gate.set()
    writer.flush()
    assert sink.items == list(range(50))
    writer.close()


def test_a_failed_write_is_retried_and_nothing_is_lost() -> None:
    sink = Sink(failures=3)
    writer = ThreadedBatchWriter(sink, name="t", batch_size=10, linger_s=0.0, retry_delay_s=0.01)
    for i in range(25):
        writer.add(i)
    writer.flush(timeout_s=10)
    assert sink.items == list(range(25)) and writer.error is None and sink.calls >= 3 + 3
    writer.close()


def test_backlog_is_refused_not_dropped() -> None:
    sink = Sink()
    sink.gate.clear()
    writer = ThreadedBatchWriter(sink, name="t", batch_size=2, linger_s=0.0, max_pending=5)
    for i in range(5):
        writer.add(i)
    with pytest.raises(WriteBacklog, match="5 items wait to be written"):
        writer.add(5)
    sink.gate.set()
    writer.close()
    assert sink.items == list(range(5))


def test_close_writes_what_is_queued_then_refuses_more() -> None:
    sink = Sink()
    writer = ThreadedBatchWriter(sink, name="t", batch_size=1000, linger_s=60.0)  # would wait a minute for more
    for i in range(10):
        writer.add(i)
    started = time.perf_counter()
    writer.close()
    assert sink.items == list(range(10)) and time.perf_counter() - started < 5
    with pytest.raises(StoreError, match="closed"):
        writer.add(11)


def test_close_reports_items_it_could_not_write() -> None:
    sink = Sink(failures=10**9)
    writer = ThreadedBatchWriter(sink, name="t", batch_size=10, linger_s=0.0, retry_delay_s=0.01)
    for i in range(3):
        writer.add(i)
    with pytest.raises(StoreError, match=r"3 items not written at close \(last error: database is locked\)"):
        writer.close(timeout_s=0.2)


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        ThreadedBatchWriter(Sink(), name="t", batch_size=10, max_pending=5)
