"""A scorecard re-labelled in another taxonomy (``--taxonomy llama-guard-3``).

Each code of the chosen taxonomy pools the canonical hazards it maps to through the crosswalk (attack
success counts summed over those hazards). The crosswalk is many-to-many, so one canonical hazard can
feed several codes: the rows are views of the same attempts, not a partition of them, and the overall
row is the canonical one.
"""

from __future__ import annotations

from dataclasses import dataclass

from safetyscope.metrics.scorecard import OVERALL, Rate, Scorecard
from safetyscope.taxonomy import TaxonomyCatalog


@dataclass(frozen=True)
class TaxonomyRow:
    """One code of the chosen taxonomy with its pooled attack success."""

    code: str
    name: str
    hazards: tuple[str, ...]
    rate: Rate


def rows_in_taxonomy(card: Scorecard, attack: str, taxonomy: str, *, level: str | None = None,
                     catalog: TaxonomyCatalog | None = None) -> list[TaxonomyRow]:
    """Attack success per code of ``taxonomy`` (codes whose hazards the run did not test are left out)."""
    loaded = (catalog or TaxonomyCatalog()).load(taxonomy)
    rows = []
    for entry in loaded.at_level(level):
        hazards = tuple(h for h in entry.hazards if (attack, h) in card.attack_success)
        if not hazards:
            continue
        parts = [card.attack_success[(attack, h)] for h in hazards]
        pooled = Rate(hits=sum(p.hits for p in parts), scored=sum(p.scored for p in parts),
                      unscored=sum(p.unscored for p in parts))
        rows.append(TaxonomyRow(code=entry.code, name=entry.name, hazards=hazards, rate=pooled))
    return rows


__all__ = ["OVERALL", "TaxonomyRow", "rows_in_taxonomy"]
