"""Hazard taxonomies. The canonical hub is MLCommons AILuminate v1.0 (12 hazards) plus ``benign``."""

from safetyscope.taxonomy.canonical import BENIGN, CANONICAL_HAZARDS, Hazard, canonical_code

__all__ = ["BENIGN", "CANONICAL_HAZARDS", "Hazard", "canonical_code"]
