"""Targets: anything that answers chat messages, addressed as ``provider/name``."""

from safetyscope.targets.base import Target, create_target, target_providers

__all__ = ["Target", "create_target", "target_providers"]
