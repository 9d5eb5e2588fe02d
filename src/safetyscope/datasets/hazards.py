"""From a benchmark's category to the canonical hazards, through the taxonomy crosswalk (``taxonomy/data``).

There is no mapping here: every category is looked up in its taxonomy's data file. The rules this module adds:

* **primary hazard**: a category's first ``maps_to`` hazard (the crosswalk lists the primary first). A row with
  several categories takes each category's primary and keeps the first in canonical order (the physical hazards
  come first: ``vcr, src, cse, ssh, iwp`` before ``ipv … prv``, then ``spc, sxc``). Every hazard the row's
  categories reach is kept in ``metadata.canonical_hazards``.
* **fallback** (:data:`UNMAPPED`): a category the crosswalk marks out of scope, or a row with no category at all,
  gets hazard ``unmapped``. The row keeps the benchmark's own expectation (refuse, usually) and its source
  category; ``metadata.unmapped_reason`` says why. ``unmapped`` is a stratum of its own: it is counted in the
  overall rates but never inflates one of the 12 hazards, and it is not ``benign`` (no over-refusal is implied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from safetyscope.datasets.readers import Where
from safetyscope.taxonomy import BENIGN, CANONICAL_HAZARDS, Taxonomy, TaxonomyCatalog

UNMAPPED = "unmapped"
"""The hazard of a row whose category maps to no canonical hazard (or that has none)."""

_ORDER = {code: index for index, code in enumerate(CANONICAL_HAZARDS)}


@dataclass(frozen=True)
class HazardMapping:
    """Where one row lands among the canonical hazards."""

    hazard: str
    hazards: tuple[str, ...] = ()
    source: str | None = None
    taxonomy: str | None = None
    unmapped_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """What the sample's metadata records about the mapping."""
        out: dict[str, Any] = {}
        if self.taxonomy is not None:
            out["source_taxonomy"] = self.taxonomy
        if self.hazards:
            out["canonical_hazards"] = list(self.hazards)
        if self.unmapped_reason is not None:
            out["unmapped_reason"] = self.unmapped_reason
        out.update(self.extra)
        return out


BENIGN_MAPPING = HazardMapping(BENIGN)


def benign(source: str | None = None) -> HazardMapping:
    """A benign row (expects compliance), keeping its source category."""
    return HazardMapping(BENIGN, source=source)


def unmapped(reason: str, source: str | None = None, taxonomy: str | None = None) -> HazardMapping:
    """A row with no canonical hazard."""
    return HazardMapping(UNMAPPED, source=source, taxonomy=taxonomy, unmapped_reason=reason)


def fixed(hazard: str, reason: str, source: str | None = None) -> HazardMapping:
    """A whole-dataset hazard (e.g. malicious code → ``ncr``), with the reason recorded on every row."""
    return HazardMapping(hazard, (hazard,), source=source, extra={"hazard_reason": reason})


class HazardMapper:
    """Looks categories of one taxonomy up in the crosswalk, caching each distinct category."""

    def __init__(self, taxonomy: str, *, catalog: TaxonomyCatalog | None = None) -> None:
        self.taxonomy: Taxonomy = (catalog or TaxonomyCatalog()).load(taxonomy)
        self._cache: dict[str, HazardMapping | None] = {}

    def _lookup(self, code: str) -> HazardMapping | None:
        if code in self._cache:
            return self._cache[code]
        entry = self.taxonomy.find(code)
        found: HazardMapping | None
        if entry is None:
            found = None
        elif entry.out_of_scope:
            found = unmapped(f"out of scope in the {self.taxonomy.name} crosswalk: {entry.reason}", code,
                             self.taxonomy.name)
        else:
            found = HazardMapping(entry.hazards[0], entry.hazards, code, self.taxonomy.name)
        self._cache[code] = found
        return found

    def _unknown(self, code: str, where: Where | None, field: str | None) -> Exception:
        known = ", ".join(entry.name if entry.code == entry.name else f"{entry.code} ({entry.name})"
                          for entry in self.taxonomy.codes[:12])
        more = ", …" if len(self.taxonomy.codes) > 12 else ""
        message = f"unknown {self.taxonomy.name} category '{code}' (known: {known}{more})"
        return where.error(message, field=field) if where is not None else KeyError(message)

    def map(self, code: str, *, where: Where | None = None, field: str | None = None,
            strict: bool = True) -> HazardMapping:
        """The mapping of one category. Unknown: an error when ``strict``, else :data:`UNMAPPED`."""
        found = self._lookup(code)
        if found is not None:
            return found
        if strict:
            raise self._unknown(code, where, field)
        return unmapped(f"'{code}' is not a {self.taxonomy.name} category", code, self.taxonomy.name)

    def map_many(self, codes: Sequence[str], *, where: Where | None = None, field: str | None = None,
                 strict: bool = True, empty_reason: str = "no category given") -> HazardMapping:
        """The mapping of a row with several categories (see the module docstring for the rule)."""
        if len(codes) == 1:
            return self.map(codes[0], where=where, field=field, strict=strict)
        source = ", ".join(codes) if codes else None
        mapped = [self.map(code, where=where, field=field, strict=strict) for code in codes]
        inside = [m for m in mapped if m.hazard != UNMAPPED]
        if not inside:
            reasons = "; ".join(m.unmapped_reason or "" for m in mapped) or empty_reason
            return unmapped(reasons, source, self.taxonomy.name)
        primary = min((m.hazard for m in inside), key=lambda hazard: _ORDER[hazard])
        union: dict[str, None] = {primary: None}
        for m in inside:
            union.update(dict.fromkeys(m.hazards))
        left_out = [m.source for m in mapped if m.hazard == UNMAPPED]
        extra = {"unmapped_categories": left_out} if left_out else {}
        return HazardMapping(primary, tuple(union), source, self.taxonomy.name, extra=extra)
