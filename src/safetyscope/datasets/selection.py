"""Seeded selection, shared by every dataset: all items, a uniform sample, or a stratified one per hazard.

* ``limit=N`` keeps a seeded uniform sample of N items (reservoir sampling: a file of any size streams through,
  holding only the N kept items).
* ``per_hazard=N`` keeps N seeded-uniform items per stratum (the canonical hazard; ``benign`` and ``unmapped``
  are strata too). Each stratum has its own generator seeded from ``(seed, stratum)``, so adding rows of one
  hazard does not change what is picked for another.
* Both: the stratified pick, then a seeded uniform ``limit`` of it.

Whatever is kept comes out in file order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from safetyscope.core.errors import UsageError

T = TypeVar("T")


class _Reservoir(Generic[T]):
    """Algorithm R over (index, item) pairs."""

    __slots__ = ("_kept", "_limit", "_rng", "_seen")

    def __init__(self, limit: int, rng: random.Random) -> None:
        self._limit = limit
        self._rng = rng
        self._seen = 0
        self._kept: list[tuple[int, T]] = []

    def offer(self, index: int, item: T) -> None:
        if self._seen < self._limit:
            self._kept.append((index, item))
        else:
            slot = self._rng.randrange(self._seen + 1)
            if slot < self._limit:
                self._kept[slot] = (index, item)
        self._seen += 1

    @property
    def kept(self) -> list[tuple[int, T]]:
        return self._kept


def _check(limit: int | None, per_hazard: int | None) -> None:
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")
    if per_hazard is not None and per_hazard < 1:
        raise UsageError(f"per_hazard must be at least 1, got {per_hazard}")


def select_items(items: Iterable[T], *, key: Callable[[T], str], limit: int | None = None, seed: int = 0,
                 per_hazard: int | None = None) -> Iterator[T]:
    """Stream ``items`` (all, ``limit`` of them, or ``per_hazard`` per stratum ``key(item)``), kept in order."""
    _check(limit, per_hazard)
    if per_hazard is None:
        if limit is None:
            yield from items
            return
        reservoir: _Reservoir[T] = _Reservoir(limit, random.Random(seed))
        for index, item in enumerate(items):
            reservoir.offer(index, item)
        chosen = sorted(reservoir.kept, key=lambda pair: pair[0])
    else:
        strata: dict[str, _Reservoir[T]] = {}
        for index, item in enumerate(items):
            stratum = key(item)
            found = strata.get(stratum)
            if found is None:
                found = strata[stratum] = _Reservoir(per_hazard, random.Random(f"{seed}:{stratum}"))
            found.offer(index, item)
        chosen = sorted((pair for reservoir in strata.values() for pair in reservoir.kept), key=lambda p: p[0])
        if limit is not None and len(chosen) > limit:
            keep = sorted(random.Random(seed).sample(range(len(chosen)), limit))
            chosen = [chosen[i] for i in keep]
    for _, item in chosen:
        yield item


def planned_count(counts: Mapping[str, int], *, limit: int | None = None, per_hazard: int | None = None) -> int:
    """How many items :func:`select_items` yields from a dataset with ``counts`` items per stratum."""
    _check(limit, per_hazard)
    total = sum(min(n, per_hazard) if per_hazard is not None else n for n in counts.values())
    return min(total, limit) if limit is not None else total


def count_strata(items: Iterable[T], key: Callable[[T], str]) -> Counter[str]:
    """Items per stratum; iterating a dataset this way also validates every row."""
    return Counter(key(item) for item in items)
