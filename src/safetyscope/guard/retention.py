"""Retention: delete stored decisions older than ``retention_days`` (on demand, and periodically in the service)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from safetyscope.core.errors import SafetyscopeError
from safetyscope.guard.store import GuardStore

log = logging.getLogger("safetyscope.guard")


def cutoff(retention_days: float, now: datetime | None = None) -> str:
    """The ISO-8601 UTC time before which decisions are purged (same format as ``created_at``)."""
    moment = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def purge(store: GuardStore, retention_days: float, now: datetime | None = None) -> int:
    """Delete decisions older than ``retention_days``; returns how many were deleted. Weights are kept."""
    return store.purge_decisions(cutoff(retention_days, now))


async def purge_periodically(store: GuardStore, retention_days: float, interval_s: float) -> None:
    """Purge now and then every ``interval_s`` until cancelled; a failed purge is logged and retried later."""
    while True:
        try:
            deleted = await asyncio.to_thread(purge, store, retention_days)
            if deleted:
                log.info("retention: purged %d decisions older than %g days", deleted, retention_days)
        except (SafetyscopeError, SQLAlchemyError) as exc:  # the store may be briefly unavailable; try again next time
            log.warning("retention: purge failed: %s", exc)
        await asyncio.sleep(interval_s)
