"""A minimal, fast OpenAI-compatible chat-completions stub server for benchmarking the run loop.

    python benchmarks/stub_server.py --port 8765 --latency-ms 0

Serves ``POST /v1/chat/completions`` (and ``GET /v1/models``, ``GET /stats``) on 127.0.0.1. Every reply is
deterministic: if the last integer in the final user message is odd the "model" refuses, otherwise it
complies. Usage fields are filled with whitespace-token counts. ``--latency-ms`` adds a fixed delay per
request (an ``asyncio.sleep``, so any number of requests wait concurrently).

The server does as little as possible per request (one ``orjson`` parse, one pre-built reply template)
so that at 0 ms latency it is not the bottleneck; ``--self-test N`` measures its own request rate with a
bare aiohttp client. It prints ``ready <port>`` on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time

try:
    import orjson

    def _loads(data: bytes) -> object:
        return orjson.loads(data)

    def _dumps(value: object) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - orjson is a safetyscope dependency
    import json

    def _loads(data: bytes) -> object:
        return json.loads(data)

    def _dumps(value: object) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

from aiohttp import web

REFUSAL = "I'm sorry, but I can't help with that request. It could cause harm, so I have to decline."
COMPLIANCE = ("Sure, here is an overview. 1. Start with the basics and gather what you need. "
              "2. Follow the steps carefully in order. 3. Check the result and adjust as needed.")
_LAST_INT = re.compile(r"(\d+)(?!.*\d)", re.DOTALL)
_REFUSAL_TOKENS = len(REFUSAL.split())
_COMPLIANCE_TOKENS = len(COMPLIANCE.split())


def answer_for(prompt: str) -> str:
    """Refuse when the last integer in the prompt is odd, comply otherwise (also when there is none)."""
    match = _LAST_INT.search(prompt)
    if match is not None and int(match.group(1)[-1]) % 2 == 1:
        return REFUSAL
    return COMPLIANCE


class StubServer:
    def __init__(self, latency_ms: float) -> None:
        self._latency_s = latency_ms / 1000.0
        self.requests = 0
        self.started = time.time()

    async def chat_completions(self, request: web.Request) -> web.Response:
        self.requests += 1
        raw = await request.read()
        try:
            body = _loads(raw)
            messages = body["messages"]  # type: ignore[index]
            prompt = str(messages[-1].get("content") or "")
            model = str(body.get("model", "stub"))  # type: ignore[union-attr]
        except Exception as exc:
            return web.Response(status=400, body=_dumps({"error": {"message": f"bad request: {exc}"}}),
                                content_type="application/json")
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        text = answer_for(prompt)
        completion_tokens = _REFUSAL_TOKENS if text is REFUSAL else _COMPLIANCE_TOKENS
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
        reply = {
            "id": f"chatcmpl-stub-{self.requests}",
            "object": "chat.completion",
            "created": int(self.started),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        return web.Response(body=_dumps(reply), content_type="application/json")

    async def models(self, _request: web.Request) -> web.Response:
        return web.Response(body=_dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}),
                            content_type="application/json")

    async def stats(self, _request: web.Request) -> web.Response:
        return web.Response(body=_dumps({"requests": self.requests}), content_type="application/json")


def build_app(latency_ms: float) -> web.Application:
    server = StubServer(latency_ms)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", server.chat_completions)
    app.router.add_post("/chat/completions", server.chat_completions)
    app.router.add_get("/v1/models", server.models)
    app.router.add_get("/stats", server.stats)
    return app


async def serve(port: int, latency_ms: float) -> None:
    runner = web.AppRunner(build_app(latency_ms), access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    print(f"ready {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def self_test(port: int, n: int, concurrency: int) -> None:
    """Hammer a running stub with a bare aiohttp client and print requests/s."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    bodies = [_dumps({"model": "stub", "messages": [{"role": "user", "content": f"request number {i}"}],
                      "max_tokens": 64, "temperature": 0}) for i in range(n)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    refusals = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal refusals
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as reply:
                data = _loads(await reply.read())
                if "sorry" in data["choices"][0]["message"]["content"]:  # type: ignore[index]
                    refusals += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"{n} requests, {concurrency} in flight: {elapsed:.2f} s, {n / elapsed:.0f} requests/s; "
          f"client CPU {cpu * 1000 / n:.3f} ms per request ({refusals} refusals)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed delay added to every reply")
    parser.add_argument("--self-test", type=int, default=0, metavar="N",
                        help="instead of serving, send N requests to a stub already running on --port")
    parser.add_argument("--concurrency", type=int, default=50, help="in-flight requests for --self-test")
    args = parser.parse_args(argv)
    if args.self_test:
        asyncio.run(self_test(args.port, args.self_test, args.concurrency))
        return 0
    with contextlib.suppress(KeyboardInterrupt, web.GracefulExit):
        asyncio.run(serve(args.port, args.latency_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
