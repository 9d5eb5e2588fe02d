"""Judges read (input, response) and return a Verdict."""

from safetyscope.judges.base import Judge, create_judge, judges

__all__ = ["Judge", "create_judge", "judges"]
