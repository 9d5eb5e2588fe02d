"""Typed, frozen records for a hazard taxonomy and its crosswalk to the canonical hazards.

One JSON file in ``taxonomy/data`` is one :class:`Taxonomy`. Every :class:`TaxonomyCode` either maps to one
or more canonical hazards (``maps_to``: hazard, fit, one-line rationale) or is explicitly ``out_of_scope`` with
a reason. The file format is documented in ``docs/taxonomies.md``.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from safetyscope.core.errors import UsageError
from safetyscope.taxonomy.canonical import BENIGN, CANONICAL_HAZARDS, canonical_code

Fit = Literal["exact", "partial"]
CodeScheme = Literal["source", "safetyscope", "mixed"]


class TaxonomyError(UsageError):
    """A taxonomy, code or hazard that cannot be found (exit code 2)."""


class UnknownTaxonomyError(TaxonomyError):
    """No taxonomy of that name or alias."""


class UnknownCodeError(TaxonomyError):
    """No code, name or alias of that spelling in the taxonomy (or more than one)."""


def lookup_key(text: str) -> str:
    """The normalised form used for case-insensitive look-ups (``"S1."`` and ``"s1"`` are the same key)."""
    return " ".join(text.strip().rstrip(".").split()).casefold()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HazardLink(_Frozen):
    """One edge of the crosswalk: a source code maps (exactly or partly) to a canonical hazard."""

    hazard: str = Field(description="Canonical hazard code (one of the 12; never benign).")
    fit: Fit = Field(default="partial", description="exact: same scope; partial: overlapping scope.")
    rationale: str = Field(min_length=1, description="Why the code maps to the hazard, in one line.")

    @field_validator("hazard")
    @classmethod
    def _canonical(cls, value: str) -> str:
        if value not in CANONICAL_HAZARDS or value == BENIGN:
            raise ValueError(f"'{value}' is not a canonical hazard code")
        return value


class TaxonomyCode(_Frozen):
    """One category of a taxonomy, at any level, with its crosswalk."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str | None = None
    level: str | None = Field(default=None, description="Level name when the taxonomy has levels.")
    parent: str | None = Field(default=None, description="Code of the parent at the level above.")
    group: str | None = Field(default=None, description="A grouping the source uses that has no code of its own.")
    aliases: tuple[str, ...] = Field(default=(), description="Other spellings accepted in look-ups.")
    maps_to: tuple[HazardLink, ...] = ()
    out_of_scope: bool = False
    reason: str | None = Field(default=None, description="Why an out-of-scope code maps to no hazard.")
    verified: bool = Field(default=True, description="False where the code or name could not be checked.")
    note: str | None = None

    @model_validator(mode="after")
    def _mapped_or_out_of_scope(self) -> TaxonomyCode:
        if self.out_of_scope:
            if self.maps_to:
                raise ValueError(f"code '{self.code}' is out of scope but also maps to hazards")
            if not (self.reason and self.reason.strip()):
                raise ValueError(f"code '{self.code}' is out of scope without a reason")
        else:
            if not self.maps_to:
                raise ValueError(f"code '{self.code}' maps to no hazard and is not marked out_of_scope")
            if self.reason is not None:
                raise ValueError(f"code '{self.code}' has a reason but is not out of scope")
        hazards = [link.hazard for link in self.maps_to]
        if len(hazards) != len(set(hazards)):
            raise ValueError(f"code '{self.code}' lists a hazard twice")
        return self

    @property
    def hazards(self) -> tuple[str, ...]:
        """The canonical hazards this code maps to, primary first; empty when out of scope."""
        return tuple(link.hazard for link in self.maps_to)

    def link(self, hazard: str) -> HazardLink | None:
        """The crosswalk edge to ``hazard``, if any."""
        return next((link for link in self.maps_to if link.hazard == hazard), None)


class Source(_Frozen):
    """Where the taxonomy comes from."""

    citation: str
    url: str | None = None
    repo: str | None = None
    path: str | None = None
    commit: str | None = None


class Taxonomy(_Frozen):
    """A seed taxonomy with its crosswalk to the canonical hazards."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", description="Identifier; also the data file's stem.")
    title: str
    version: str
    aliases: tuple[str, ...] = ()
    source: Source
    verified: bool = Field(description="False where the codes could not be read in the source or its data.")
    verification: str = Field(description="What was checked, against what.")
    unverified: tuple[str, ...] = Field(default=(), description="Items that could not be verified.")
    code_scheme: CodeScheme = Field(description="Whether codes are the source's, safetyscope's, or both.")
    levels: tuple[str, ...] = Field(default=(), description="Level names, top first; empty for a flat list.")
    hierarchical: bool = Field(default=True, description="False when the levels are parallel facets, not nested.")
    published_counts: dict[str, int] = Field(description="Codes per level as published ('code' when flat).")
    notes: tuple[str, ...] = ()
    codes: tuple[TaxonomyCode, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        codes = [entry.code for entry in self.codes]
        duplicates = sorted(code for code, n in Counter(codes).items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate codes: {', '.join(duplicates)}")
        by_code = {entry.code: entry for entry in self.codes}
        if self.levels and self.hierarchical and any(
                entry.parent is None for entry in self.codes if entry.level != self.levels[0]):
            raise ValueError("every code below the top level needs a parent (or set hierarchical: false)")
        for entry in self.codes:
            if self.levels and entry.level not in self.levels:
                raise ValueError(f"code '{entry.code}' has level {entry.level!r}, not one of {list(self.levels)}")
            if not self.levels and entry.level is not None:
                raise ValueError(f"code '{entry.code}' has a level but the taxonomy declares none")
            if entry.parent is not None:
                parent = by_code.get(entry.parent)
                if parent is None:
                    raise ValueError(f"code '{entry.code}' has unknown parent '{entry.parent}'")
                if self.levels and parent.level is not None and entry.level is not None and (
                        self.levels.index(parent.level) >= self.levels.index(entry.level)):
                    raise ValueError(f"code '{entry.code}' is not below its parent '{entry.parent}'")
        if self.counts() != self.published_counts:
            raise ValueError(f"code counts {self.counts()} differ from published_counts {self.published_counts}")
        return self

    def counts(self) -> dict[str, int]:
        """Codes per level ('code' for a flat taxonomy), in level order."""
        tally = Counter(entry.level or "code" for entry in self.codes)
        order = list(self.levels) or ["code"]
        return {level: tally[level] for level in order if tally[level]}

    def at_level(self, level: str | None) -> tuple[TaxonomyCode, ...]:
        """The codes at ``level`` (all codes when ``level`` is None)."""
        if level is None:
            return self.codes
        if level not in self.levels:
            known = ", ".join(self.levels) or "none (flat taxonomy)"
            raise TaxonomyError(f"taxonomy '{self.name}' has no level '{level}' (levels: {known})")
        return tuple(entry for entry in self.codes if entry.level == level)

    @cached_property
    def _index(self) -> tuple[dict[str, TaxonomyCode], dict[str, tuple[TaxonomyCode, ...]]]:
        exact = {entry.code: entry for entry in self.codes}
        loose: dict[str, list[TaxonomyCode]] = {}
        for entry in self.codes:
            for key in {lookup_key(entry.code), lookup_key(entry.name), *map(lookup_key, entry.aliases)}:
                bucket = loose.setdefault(key, [])
                if entry not in bucket:
                    bucket.append(entry)
        return exact, {key: tuple(entries) for key, entries in loose.items()}

    def find(self, code: str) -> TaxonomyCode | None:
        """The entry for a code, name or alias (exact code first, then case-insensitive); None if unknown."""
        exact, loose = self._index
        if code in exact:
            return exact[code]
        matches = loose.get(lookup_key(code), ())
        return matches[0] if len(matches) == 1 else None

    def get(self, code: str) -> TaxonomyCode:
        """Like :meth:`find`, but raises :class:`UnknownCodeError` with a hint when nothing (or too much) matches."""
        found = self.find(code)
        if found is not None:
            return found
        matches = self._index[1].get(lookup_key(code), ())
        if len(matches) > 1:
            listed = ", ".join(entry.code for entry in matches)
            raise UnknownCodeError(f"'{code}' is ambiguous in taxonomy '{self.name}': it names {listed}")
        sample = ", ".join(entry.code for entry in self.codes[:8])
        raise UnknownCodeError(f"unknown code '{code}' in taxonomy '{self.name}' (codes include {sample}, …; "
                               f"see `safetyscope taxonomy show {self.name}`)")

    def to_canonical(self, code: str) -> tuple[str, ...]:
        """The canonical hazards of a code, name or alias; empty when it is out of scope."""
        return self.get(code).hazards

    def from_canonical(self, hazard: str, *, level: str | None = None, exact_only: bool = False) -> tuple[str, ...]:
        """The codes (in taxonomy order) that map to a canonical hazard; optionally one level, or exact fits only.

        ``benign`` maps from nothing, so it returns an empty tuple. AILuminate spellings (``spc_ele``) are accepted.
        """
        key = canonical_code(hazard)
        if key is None:
            known = ", ".join(CANONICAL_HAZARDS)
            raise UnknownCodeError(f"unknown canonical hazard '{hazard}' (known: {known})")
        out = []
        for entry in self.at_level(level):
            link = entry.link(key)
            if link is not None and (link.fit == "exact" or not exact_only):
                out.append(entry.code)
        return tuple(out)
