"""Attacks turn a sample into what is actually sent, and decode the reply where they encoded it."""

from safetyscope.attacks.base import Attack, attacks, create_attack

__all__ = ["Attack", "attacks", "create_attack"]
