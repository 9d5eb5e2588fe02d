"""The dataset abstraction: a name, a description, and a lazily parsed stream of validated samples.

Every dataset (a file in our schema, a built-in suite, a public benchmark in its own format) satisfies
:class:`Dataset`. Concrete ones subclass :class:`BaseDataset` and implement ``_entries()``: the base checks ids are
unique, refuses an empty dataset, counts (``validate``) and selects (``select``, through the one shared
:func:`~safetyscope.datasets.selection.select_items`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from safetyscope.core.errors import DatasetError
from safetyscope.core.records import Sample
from safetyscope.datasets.readers import Where
from safetyscope.datasets.selection import select_items

T = TypeVar("T")


@runtime_checkable
class Dataset(Protocol):
    """Anything that streams validated samples."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def __iter__(self) -> Iterator[Sample]: ...

    def validate(self) -> int:
        """Parse every row; raise :class:`DatasetError` at the first bad one. Returns the number of samples."""
        ...

    def select(self, *, limit: int | None = None, seed: int = 0,
               per_hazard: int | None = None) -> Iterator[Sample]:
        """All samples, a seeded uniform ``limit`` of them, and/or ``per_hazard`` per hazard; in file order."""
        ...


class BaseCollection(ABC, Generic[T]):
    """Shared behaviour of datasets and labelled sets: unique ids, not empty, count, seeded selection."""

    name: str
    description: str

    @property
    def source(self) -> Path | None:
        """The main file the items come from (None when there is no single file)."""
        return None

    @abstractmethod
    def _entries(self) -> Iterator[tuple[Where, T]]:
        """Each item with where it came from (for error messages)."""

    @abstractmethod
    def _key(self, item: T) -> str:
        """The item's id (unique within the collection)."""

    @abstractmethod
    def stratum(self, item: T) -> str:
        """The item's selection stratum (its canonical hazard)."""

    def __iter__(self) -> Iterator[T]:
        seen: set[str] = set()
        where: Where | None = None
        for where, item in self._entries():
            key = self._key(item)
            if key in seen:
                raise where.error(f"duplicate id '{key}'", field="id")
            seen.add(key)
            yield item
        if where is None:
            raise DatasetError(self.source or Path(self.name), "the dataset is empty")

    def validate(self) -> int:
        """Parse every row; raise :class:`DatasetError` at the first bad one. Returns the number of items."""
        return sum(1 for _ in self)

    def select(self, *, limit: int | None = None, seed: int = 0, per_hazard: int | None = None) -> Iterator[T]:
        """All items, a seeded uniform ``limit`` of them, and/or ``per_hazard`` per stratum; in file order."""
        return select_items(self, key=self.stratum, limit=limit, seed=seed, per_hazard=per_hazard)


class BaseDataset(BaseCollection[Sample]):
    """A dataset of samples."""

    def _key(self, item: Sample) -> str:
        return item.id

    def stratum(self, item: Sample) -> str:
        return item.hazard
