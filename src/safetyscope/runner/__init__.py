"""Scheduling target and judge calls, caching them by content hash, and storing every result."""
