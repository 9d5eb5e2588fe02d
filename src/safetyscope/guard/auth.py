"""API keys for the guard service: creation, salted hashing, and request authentication.

A key reads ``sg_<key_id>_<secret>``: ``key_id`` (12 hex characters) finds the stored row, ``secret`` (256
random bits) is checked against ``BLAKE2b(secret, salt)`` with a per-key 16-byte salt. The plaintext is
shown once, at creation, and never stored. Each key names the policies it may use and, optionally, a rate
limit (``rate_per_s`` with a ``burst``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from safetyscope.core.errors import UsageError
from safetyscope.guard.store import ApiKeyRow, GuardStore

KEY_PATTERN = re.compile(r"^sg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
CACHE_TTL_S = 1.0
"""How long a looked-up key (or the "are keys required" answer) is reused: revocation takes effect within it."""
log = logging.getLogger("safetyscope.guard")


def hash_secret(secret: str, salt_hex: str) -> str:
    """Hex BLAKE2b-256 of the secret, salted."""
    return hashlib.blake2b(secret.encode(), digest_size=32, salt=bytes.fromhex(salt_hex)).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``plaintext`` is shown once and never stored."""

    key_id: str
    plaintext: str


def create_key(store: GuardStore, *, name: str, policies: tuple[str, ...], rate_per_s: float | None = None,
               burst: int | None = None, can_label: bool = False) -> NewKey:
    """Create and store a key bound to ``policies``; ``can_label`` lets it send true labels (``/v1/feedback``),
    which change the policy's expert weights for every client."""
    if not policies:
        raise UsageError("a key must be bound to at least one policy (--policy NAME)")
    if rate_per_s is not None and rate_per_s <= 0:
        raise UsageError(f"rate must be > 0 requests/s, not {rate_per_s}")
    if burst is not None and burst < 1:
        raise UsageError(f"burst must be >= 1, not {burst}")
    if burst is not None and rate_per_s is None:
        raise UsageError("--burst needs --rate")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    store.add_key(key_id=key_id, name=name, salt=salt, secret_hash=hash_secret(secret, salt),
                  policies=tuple(dict.fromkeys(policies)), rate_per_s=rate_per_s,
                  burst=None if rate_per_s is None else (burst or max(1, int(rate_per_s))), can_label=can_label)
    return NewKey(key_id=key_id, plaintext=f"sg_{key_id}_{secret}")


class AuthFailure(Exception):
    """A request that may not proceed: ``status`` 401 (no or bad key), 403 (not allowed) or 503 (the key
    table cannot be read)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Authenticator:
    """Checks ``Authorization: Bearer`` headers against the store, with a short cache (``CACHE_TTL_S``).

    Keys are required when ``require_key`` is set or any key was ever created (revoking the last key does not
    open the service). Blocking store reads: call it from a worker thread unless :meth:`fresh` says the
    "are keys required" answer is cached and no key is sent."""

    def __init__(self, store: GuardStore, *, require_key: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._require_key = require_key
        self._clock = clock
        self._keys: dict[str, tuple[float, ApiKeyRow | None]] = {}
        self._required: tuple[float, bool] | None = None
        self._all_revoked = False

    def fresh(self) -> bool:
        """Whether :meth:`required` answers from its cache (no store read)."""
        return self._require_key or (self._required is not None
                                     and self._clock() - self._required[0] <= CACHE_TTL_S)

    def required(self) -> bool:
        """Whether requests need a key now; :class:`AuthFailure` (503) when the key table cannot be read."""
        if self._require_key:
            return True
        now = self._clock()
        if self._required is None or now - self._required[0] > CACHE_TTL_S:
            try:
                total, revoked = self._store.key_counts()
            except Exception as exc:  # never fall back to "no keys": that would open the service
                raise AuthFailure(503, f"cannot check API keys now ({type(exc).__name__})") from exc
            all_revoked = bool(total) and total == revoked
            if all_revoked and not self._all_revoked:  # once per change, not once a second
                log.warning("every API key is revoked: all requests are refused until a key is created")
            self._all_revoked = all_revoked
            self._required = (now, total > 0)
        return self._required[1]

    def authenticate(self, authorization: str | None) -> ApiKeyRow | None:
        """The key of a request, or None when keys are not required and none was sent; raises
        :class:`AuthFailure` (401) for a missing, malformed, unknown, revoked or wrong key."""
        if not authorization:
            if self.required():
                raise AuthFailure(401, "missing API key: send 'Authorization: Bearer <key>'")
            return None
        scheme, _, token = authorization.partition(" ")
        match = KEY_PATTERN.match(token.strip()) if scheme.lower() == "bearer" else None
        if match is None:
            raise AuthFailure(401, "malformed Authorization header: expected 'Bearer sg_<id>_<secret>'")
        key_id, secret = match.groups()
        row = self._lookup(key_id)
        if row is None or row.revoked_at is not None or not hmac.compare_digest(
                hash_secret(secret, row.salt), row.secret_hash):
            raise AuthFailure(401, "invalid or revoked API key")
        return row

    def _lookup(self, key_id: str) -> ApiKeyRow | None:
        now = self._clock()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[0] <= CACHE_TTL_S:
            return cached[1]
        row = self._store.get_key(key_id)
        if len(self._keys) > 10_000:  # bound the cache against floods of made-up ids
            self._keys.clear()
        self._keys[key_id] = (now, row)
        return row


def check_label(key: ApiKeyRow | None, *, open_feedback: bool) -> None:
    """Raise :class:`AuthFailure` (403) unless the request may send true labels: a key created with
    ``can_label``, or no key at all when the service runs with ``open_feedback``."""
    if key is None and not open_feedback:
        raise AuthFailure(403, "feedback is disabled without API keys: create a labeller key "
                               "('guard keys create --label') or serve with --open-feedback")
    if key is not None and not key.can_label:
        raise AuthFailure(403, f"API key {key.key_id} may not send labels (create one with "
                               "'guard keys create --label')")


def check_policy(key: ApiKeyRow | None, policy: str) -> None:
    """Raise :class:`AuthFailure` (403) when the key may not use ``policy`` (no key: no restriction)."""
    if key is not None and policy not in key.policies:
        raise AuthFailure(403, f"API key {key.key_id} may not use policy {policy!r} "
                               f"(allowed: {', '.join(key.policies)})")
