"""Loading the seed taxonomies shipped in ``safetyscope/taxonomy/data`` and translating codes through the hub.

There is no module-level cache: a :class:`TaxonomyCatalog` caches what it has loaded, so a caller that looks up
many codes holds one catalog. The module functions build a fresh catalog per call unless given one::

    catalog = TaxonomyCatalog()
    catalog.to_canonical("llama-guard-3", "S9")          # ('iwp',)
    catalog.from_canonical("iwp", "openai-moderation")   # ()  -- nothing in that taxonomy maps to iwp
    catalog.translate("S9", source="llama-guard-3", target="air-bench-2024", level="L4")
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import ValidationError

from safetyscope.taxonomy.records import Taxonomy, TaxonomyError, UnknownTaxonomyError, lookup_key

DATA_PACKAGE = "safetyscope.taxonomy"
DATA_DIR = "data"
CANONICAL_TAXONOMY = "ailuminate-v1.0"
"""The data file of the canonical hub itself (the 12 AILuminate v1.0 hazards)."""

TaxonomyRef = str | Taxonomy


class TaxonomyCatalog:
    """The taxonomies in one data directory (by default the package's), loaded lazily and cached per instance."""

    def __init__(self, root: Traversable | Path | None = None) -> None:
        self._root: Traversable | Path = root if root is not None else resources.files(DATA_PACKAGE) / DATA_DIR
        self._loaded: dict[str, Taxonomy] = {}
        self._names: tuple[str, ...] | None = None
        self._aliases: dict[str, str] | None = None

    def names(self) -> tuple[str, ...]:
        """The taxonomy names, sorted."""
        if self._names is None:
            self._names = tuple(sorted(entry.name[: -len(".json")] for entry in self._root.iterdir()
                                       if entry.name.endswith(".json") and entry.is_file()))
        return self._names

    def resolve(self, name: str) -> str:
        """The taxonomy name for a name or alias (case-insensitive); raises :class:`UnknownTaxonomyError`."""
        names = self.names()
        if name in names:
            return name
        key = lookup_key(name)
        for known in names:
            if lookup_key(known) == key:
                return known
        if self._aliases is None:
            self._aliases = {}
            for taxonomy in self.all():
                for alias in taxonomy.aliases:
                    self._aliases.setdefault(lookup_key(alias), taxonomy.name)
        if key in self._aliases:
            return self._aliases[key]
        raise UnknownTaxonomyError(f"unknown taxonomy '{name}' (known: {', '.join(names)})")

    def load(self, name: TaxonomyRef) -> Taxonomy:
        """One taxonomy by name or alias; a :class:`Taxonomy` passes through."""
        if isinstance(name, Taxonomy):
            return name
        resolved = self.resolve(name)
        cached = self._loaded.get(resolved)
        if cached is not None:
            return cached
        path = self._root / f"{resolved}.json"
        try:
            taxonomy = Taxonomy.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise TaxonomyError(f"taxonomy data file {resolved}.json is invalid: {exc}") from exc
        if taxonomy.name != resolved:
            raise TaxonomyError(f"taxonomy data file {resolved}.json declares the name '{taxonomy.name}'")
        self._loaded[resolved] = taxonomy
        return taxonomy

    def all(self) -> tuple[Taxonomy, ...]:
        """Every taxonomy, in name order."""
        return tuple(self.load(name) for name in self.names())

    def to_canonical(self, taxonomy: TaxonomyRef, code: str) -> tuple[str, ...]:
        """The canonical hazards of ``code`` in ``taxonomy``; empty when the code is out of scope."""
        return self.load(taxonomy).to_canonical(code)

    def from_canonical(self, hazard: str, taxonomy: TaxonomyRef, *, level: str | None = None,
                       exact_only: bool = False) -> tuple[str, ...]:
        """The codes of ``taxonomy`` that map to canonical ``hazard`` (the reverse crosswalk)."""
        return self.load(taxonomy).from_canonical(hazard, level=level, exact_only=exact_only)

    def translate(self, code: str, *, source: TaxonomyRef, target: TaxonomyRef, level: str | None = None,
                  exact_only: bool = False) -> tuple[str, ...]:
        """Codes of ``target`` reached from ``code`` in ``source`` through the canonical hazards, in target order."""
        hazards = self.to_canonical(source, code)
        return _union(self.from_canonical(h, target, level=level, exact_only=exact_only) for h in hazards)


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


def list_taxonomies(*, catalog: TaxonomyCatalog | None = None) -> tuple[str, ...]:
    """The names of the shipped taxonomies."""
    return (catalog or TaxonomyCatalog()).names()


def load_taxonomy(name: str, *, catalog: TaxonomyCatalog | None = None) -> Taxonomy:
    """One taxonomy by name or alias (for repeated use, hold a :class:`TaxonomyCatalog`)."""
    return (catalog or TaxonomyCatalog()).load(name)


def to_canonical(taxonomy: TaxonomyRef, code: str, *, catalog: TaxonomyCatalog | None = None) -> tuple[str, ...]:
    """The canonical hazard codes for ``code`` (a code, name or alias) of ``taxonomy``; () if out of scope."""
    return (catalog or TaxonomyCatalog()).to_canonical(taxonomy, code)


def from_canonical(hazard: str, taxonomy: TaxonomyRef, *, level: str | None = None, exact_only: bool = False,
                   catalog: TaxonomyCatalog | None = None) -> tuple[str, ...]:
    """The codes of ``taxonomy`` that map to canonical ``hazard``, for printing a report in that taxonomy."""
    return (catalog or TaxonomyCatalog()).from_canonical(hazard, taxonomy, level=level, exact_only=exact_only)
