"""The write-behind batch writer: batches, flush, close, failures retried without loss, backlog refusal."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from safetyscope.core.batching import ThreadedBatchWriter, WriteBacklog, error_summary, permanent_error
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
    with pytest.raises(StoreError, match=r"3 items not written at close \(last error: OSError: database is locked\)"):
        writer.close(timeout_s=0.2)


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        ThreadedBatchWriter(Sink(), name="t", batch_size=10, max_pending=5)


class PoisonSink(Sink):
    """A ``write`` that fails (one transaction: nothing written) whenever ``poison`` is in the batch."""

    def __init__(self, poison: int, error: Exception) -> None:
        super().__init__()
        self.poison = poison
        self.error = error

    def __call__(self, batch: Sequence[int]) -> None:
        self.calls += 1
        if self.poison in batch:
            raise self.error
        self.batches.append(list(batch))


def test_an_unwritable_item_is_set_aside_and_the_rest_lands(caplog: pytest.LogCaptureFixture) -> None:
    sink = PoisonSink(13, ValueError("text cannot contain NUL"))
    writer = ThreadedBatchWriter(sink, name="t", batch_size=8, linger_s=0.01, retry_delay_s=0.01,
                                 describe=lambda item: f"item {item}")
    with caplog.at_level("ERROR", logger="safetyscope.batching"):
        for i in range(40):
            writer.add(i)
        writer.flush(timeout_s=5)
    assert sink.items == [i for i in range(40) if i != 13] and writer.dropped == 1 and writer.pending == 0
    assert "set aside unwritable item 13: ValueError: text cannot contain NUL" in caplog.text
    writer.add(40)
    writer.close(timeout_s=5)  # nothing left behind: no error
    assert sink.items[-1] == 40


def test_a_transient_failure_sets_nothing_aside() -> None:
    sink = Sink(failures=5)  # OSError: the store is sick, not the data
    writer = ThreadedBatchWriter(sink, name="t", batch_size=4, linger_s=0.0, retry_delay_s=0.01)
    for i in range(10):
        writer.add(i)
    writer.flush(timeout_s=5)
    assert sink.items == list(range(10)) and writer.dropped == 0
    writer.close()


def test_permanent_errors_and_summaries_never_carry_parameters() -> None:
    from sqlalchemy.exc import DataError, OperationalError

    secret = "my secret prompt"
    data = DataError("INSERT INTO t VALUES (%(x)s)", {"x": secret}, ValueError("NUL in text"))
    down = OperationalError("INSERT INTO t VALUES (%(x)s)", {"x": secret}, OSError("connection refused"))
    assert permanent_error(data) and permanent_error(ValueError("x")) and not permanent_error(down)
    assert not permanent_error(OSError("database is locked"))
    assert secret in str(data)  # what logging str(exc) used to leak
    assert error_summary(data) == "DataError: ValueError: NUL in text"
    assert secret not in error_summary(down) and "connection refused" in error_summary(down)


def test_store_engines_hide_statement_parameters(tmp_path) -> None:
    import sqlalchemy

    from safetyscope.core.database import open_engine

    engine = open_engine(str(tmp_path / "p.sqlite"), what="test store")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (x TEXT PRIMARY KEY)"))
        conn.execute(sqlalchemy.text("INSERT INTO t VALUES ('my secret prompt')"))
    with pytest.raises(sqlalchemy.exc.IntegrityError) as failure, engine.begin() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO t VALUES (:x)"), {"x": "my secret prompt"})
    assert "my secret prompt" not in str(failure.value) and "hidden due to hide_parameters" in str(failure.value)
    engine.dispose()
