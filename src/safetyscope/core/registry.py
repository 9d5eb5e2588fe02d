"""Registries of named components, filled by decorators.

A registry maps a name to a factory. Creating a component records its spec (name plus the options it was
made with) so every stored result can say exactly which component produced it. Third-party packages add
components through the ``safetyscope.plugins`` entry-point group: each entry point names a module that
registers its components when imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from safetyscope.core.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered factory and its one-line purpose."""

    name: str
    factory: Callable[..., T]
    description: str


class Registry(Generic[T]):
    """Name → factory, for one kind of component (targets, judges, attacks, datasets)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str, *, description: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register ``factory`` under ``name``."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = RegistryEntry(name=name, factory=factory, description=description)
            return factory

        return decorate

    def get(self, name: str) -> RegistryEntry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = get_close_matches(name, list(self._entries), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise UsageError(f"unknown {self.kind} '{name}' ({hint}known: {known})") from None

    def create(self, name: str, /, **options: Any) -> T:
        """Build the component registered as ``name`` with ``options``."""
        entry = self.get(name)
        try:
            return entry.factory(**options)
        except TypeError as exc:
            raise UsageError(f"bad options for {self.kind} '{name}': {exc}") from exc

    def __iter__(self) -> Iterator[RegistryEntry[T]]:
        return iter(sorted(self._entries.values(), key=lambda entry: entry.name))

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def load_plugins(group: str = "safetyscope.plugins") -> list[str]:
    """Import every module named in the entry-point group; returns the names loaded."""
    loaded = []
    for point in entry_points(group=group):
        point.load()
        loaded.append(point.name)
    return loaded
