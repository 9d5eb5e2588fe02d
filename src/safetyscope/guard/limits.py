"""Request limits of the guard service: an ASGI body-size limit (also for chunked bodies without a
``Content-Length``, which are read up to the limit and no further) and message count/size checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from safetyscope.core.errors import UsageError

ASGIApp = Callable[..., Any]


class BodyLimit:
    """ASGI middleware: a POST/PUT/PATCH body over ``max_bytes`` gets 413 before the app sees it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: ASGIApp, send: ASGIApp) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)

    async def _reject(self, send: ASGIApp) -> None:
        body = orjson.dumps({"detail": f"request body over {self.max_bytes} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def check_texts(texts: Sequence[str], *, max_messages: int, max_content_chars: int, what: str = "messages") -> None:
    """:class:`UsageError` naming the field when there are too many texts or one is too long."""
    if len(texts) > max_messages:
        raise UsageError(f"{what}: {len(texts)} items, more than the limit of {max_messages}")
    for index, text in enumerate(texts):
        if len(text) > max_content_chars:
            raise UsageError(f"{what}[{index}]: {len(text)} characters, more than the limit of {max_content_chars}")
