"""An in-process guard engine for the evaluator (the ``guarded`` target and the ``guard`` judge): a policy by
name or path and a guard store, with no HTTP service in between."""

from __future__ import annotations

from collections.abc import Mapping

from safetyscope.core.config import DEFAULT_OUTPUT_DIR
from safetyscope.guard.engine import GuardEngine
from safetyscope.guard.policy import resolve_policy
from safetyscope.guard.store import GuardStore
from safetyscope.judges.base import Judge

DEFAULT_LOCAL_STORE = str(DEFAULT_OUTPUT_DIR / "guard.sqlite")
"""The same default store as ``safetyscope guard serve``: decisions are auditable and weights shared."""


class LocalGuard:
    """A guard engine and the store it owns, opened lazily (building never touches disk). ``judges`` gives
    ready-built experts by expert name (tests); the others are built from the policy."""

    def __init__(self, policy: str = "default", store: str = DEFAULT_LOCAL_STORE, *,
                 judges: Mapping[str, Judge] | None = None) -> None:
        self.policy = resolve_policy(policy)
        self.store_location = store
        self._judges = dict(judges or {})
        self._engine: GuardEngine | None = None

    @property
    def engine(self) -> GuardEngine:
        """The engine, opening and migrating the store on first use."""
        if self._engine is None:
            self._engine = GuardEngine(self.policy, GuardStore.open(self.store_location), judges=self._judges)
        return self._engine

    async def aclose(self) -> None:
        """Close the experts and the store."""
        if self._engine is not None:
            await self._engine.aclose()
            self._engine.store.close()
            self._engine = None
