"""Hazard taxonomies. The canonical hub is MLCommons AILuminate v1.0 (12 hazards) plus ``benign``.

Seed taxonomies (Llama Guard, Aegis, OpenAI moderation, benchmark category lists, …) ship as JSON data with a
crosswalk of every code to the canonical hazards; see ``docs/taxonomies.md``.
"""

from safetyscope.taxonomy.canonical import BENIGN, CANONICAL_HAZARDS, Hazard, canonical_code
from safetyscope.taxonomy.catalog import (
    CANONICAL_TAXONOMY,
    TaxonomyCatalog,
    from_canonical,
    list_taxonomies,
    load_taxonomy,
    to_canonical,
)
from safetyscope.taxonomy.records import (
    HazardLink,
    Source,
    Taxonomy,
    TaxonomyCode,
    TaxonomyError,
    UnknownCodeError,
    UnknownTaxonomyError,
)

__all__ = [
    "BENIGN",
    "CANONICAL_HAZARDS",
    "CANONICAL_TAXONOMY",
    "Hazard",
    "HazardLink",
    "Source",
    "Taxonomy",
    "TaxonomyCatalog",
    "TaxonomyCode",
    "TaxonomyError",
    "UnknownCodeError",
    "UnknownTaxonomyError",
    "canonical_code",
    "from_canonical",
    "list_taxonomies",
    "load_taxonomy",
    "to_canonical",
]
