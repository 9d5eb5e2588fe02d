"""Awaiting several calls at once: bounded, in order, and failing with the first real error (not a group)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``calls`` concurrently, at most ``limit`` at once; results in the order of ``calls``. The first failure
    cancels the calls still running or waiting (see :func:`all_of`)."""
    slots = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with slots:
            return await call()

    return await all_of(run(call) for call in calls)


async def all_of(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``calls`` concurrently, results in order. The first failure cancels the others and is raised as it
    is (not as an exception group), so a caller can catch the error type it expects."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except BaseExceptionGroup as failure:
        raise first_cause(failure) from None
    return [task.result() for task in tasks]


async def _awaited(call: Awaitable[T]) -> T:
    return await call


def first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a task group's failure (what the user should see)."""
    first = group.exceptions[0]
    return first_cause(first) if isinstance(first, BaseExceptionGroup) else first
