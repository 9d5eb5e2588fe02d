"""The one HTTP POST used by the OpenAI-compatible target and the HTTP judges: a lazily created
``aiohttp`` session, and the mapping of HTTP and connection failures to :class:`TargetError`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from safetyscope.core.errors import TargetError

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class SessionHolder:
    """An ``aiohttp.ClientSession`` created on first use (and again after it was closed).

    ``connector_options``, when given, build the session's ``TCPConnector``; otherwise aiohttp's default
    connector is used. There is no total timeout: callers bound calls themselves.
    """

    def __init__(self, **connector_options: Any) -> None:
        self._connector_options = connector_options
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The open session, created if there is none."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(**self._connector_options) if self._connector_options else None
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def post_json(session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    """``POST url`` with a JSON ``body``; the reply body on HTTP 200. A non-200 status raises
    :class:`TargetError` (retryable for :data:`RETRYABLE_STATUSES`, honouring ``Retry-After``); a
    connection error raises a retryable one."""
    try:
        async with session.post(url, data=body, headers=headers) as reply:
            payload = await reply.read()
            if reply.status != 200:
                raise _http_error(reply.status, payload, reply.headers.get("Retry-After"))
            return payload
    except aiohttp.ClientError as exc:
        raise TargetError(f"{url}: {type(exc).__name__}: {exc}", retryable=True) from exc


def bearer_headers(api_key: str | None) -> dict[str, str]:
    """JSON content-type headers, with ``Authorization: Bearer`` when there is a key."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _http_error(status: int, payload: bytes, retry_after: str | None) -> TargetError:
    detail = payload[:300].decode("utf-8", "replace").strip()
    return TargetError(f"HTTP {status}: {detail}", retryable=status in RETRYABLE_STATUSES,
                       retry_after_s=parse_retry_after(retry_after))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def first_choice(payload: bytes, url: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A chat-completions reply's whole JSON, its first choice and that choice's text (empty when the message has
    no content); :class:`TargetError` naming ``url`` when the reply is not one."""
    try:
        data = orjson.loads(payload)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TargetError(f"{url}: malformed chat-completions reply ({exc}): {payload[:200]!r}") from exc
    return data, choice, text
