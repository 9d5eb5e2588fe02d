"""Page-load and filter timings of an HTML report in headless Chromium, driven over the DevTools protocol.

    python benchmarks/browser_timing.py REPORT.html [--repeat 5]

Starts ``chromium --headless`` with a remote-debugging port, opens the file and reports, from the page's own
clock (``performance``): first contentful paint, DOM interactive, DOMContentLoaded end, load end, and when the
sample browser's first rows were in the DOM (a MutationObserver injected before the page loads); plus the
wall time from the navigate command to the load event. Then it times filter interactions the way a user does
them (set a ``<select>``, fire ``change``; type into the search box; click "next"): from the event to the end
of the next animation frame after the DOM update, i.e. until the browser could paint the new rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

OBSERVER = """
window.__rowsAt = null;
new MutationObserver((_, obs) => {
  const body = document.getElementById('sample-rows');
  if (body && body.children.length) { window.__rowsAt = performance.now(); obs.disconnect(); }
}).observe(document, {childList: true, subtree: true});
"""

LOAD_METRICS = """new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  resolve(JSON.stringify({fcp: fcp ? fcp.startTime : null, interactive: nav.domInteractive,
    dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, rows: window.__rowsAt,
    visible_rows: document.getElementById('sample-rows').children.length,
    info: document.getElementById('page-info').textContent}));
})))"""

# one interaction: run ACTION, then resolve after the next frame has been produced (double rAF)
INTERACTION = """new Promise(resolve => {
  const t0 = performance.now();
  %s
  const dom = performance.now();
  requestAnimationFrame(() => setTimeout(() => resolve(JSON.stringify({dom: dom - t0,
    frame: performance.now() - t0, rows: document.getElementById('sample-rows').children.length,
    info: document.getElementById('page-info').textContent})), 0));
})"""

ACTIONS = {
    "hazard filter": "const s = document.getElementById('f-hazard'); s.value = %s; "
                     "if (s.value !== %s) throw new Error('no such hazard option'); "
                     "s.dispatchEvent(new Event('change'));",
    "verdict filter": "const s = document.getElementById('f-verdict'); s.value = %s; "
                      "if (s.value !== %s) throw new Error('no such verdict option'); "
                      "s.dispatchEvent(new Event('change'));",
    "search (typed text)": "const s = document.getElementById('f-search'); s.value = %s; "
                           "s.dispatchEvent(new Event('input'));",
    "next page": "document.getElementById('next').click(); void %s;",
}


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=600)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    async def wait_event(self, method: str) -> dict[str, Any]:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            message = await self.ws.receive_json(timeout=600)
            if message.get("method") == method:
                return message
            self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"])[:500])
        return json.loads(result["result"]["value"])


def start_chromium(profile: Path) -> tuple[subprocess.Popen[str], int]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("chromium not found (Debian package 'chromium')")
    process = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            return process, int(found.group(1))
    process.kill()
    raise SystemExit("chromium did not open a DevTools port within 60 s")


async def measure(report: Path, repeat: int, hazard: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as profile:
        process, port = start_chromium(Path(profile))
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    pages = [t for t in await response.json() if t["type"] == "page"]
                async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    tools = DevTools(ws)
                    await tools.call("Page.enable")
                    await tools.call("Performance.enable")
                    await tools.call("Page.setLifecycleEventsEnabled", enabled=True)
                    await tools.call("Page.addScriptToEvaluateOnNewDocument", source=OBSERVER)
                    start = time.perf_counter()
                    await tools.call("Page.navigate", url=report.resolve().as_uri())
                    await tools.wait_event("Page.loadEventFired")
                    load_wall = time.perf_counter() - start
                    load = await tools.evaluate(LOAD_METRICS)
                    await asyncio.sleep(0.5)
                    await tools.evaluate("new Promise(r => requestAnimationFrame(() => r('1')))")
                    lifecycle = {e["params"]["name"]: e["params"]["timestamp"] for e in tools.events
                                 if e.get("method") == "Page.lifecycleEvent"}
                    if load["fcp"] is None and {"firstContentfulPaint", "DOMContentLoaded"} <= set(lifecycle):
                        # headless Chromium gives no paint-timing entry; its lifecycle event has the paint on the
                        # browser's monotonic clock: place it on the page clock through DOMContentLoaded
                        load["fcp"] = load["dom_content_loaded"] + 1000 * (
                            lifecycle["firstContentfulPaint"] - lifecycle["DOMContentLoaded"])
                    metrics = {m["name"]: m["value"] for m in (await tools.call("Performance.getMetrics"))["metrics"]}
                    interactions: dict[str, list[dict[str, Any]]] = {}
                    for name, action in ACTIONS.items():
                        values = {"hazard filter": [hazard, ""], "verdict filter": ["unsafe", ""],
                                  "search (typed text)": ["prompt 123", ""], "next page": ["0", "0"]}[name]
                        for index in range(repeat * 2):
                            value = json.dumps(values[index % 2])
                            filled = action.replace("%s", value)
                            result = await tools.evaluate(INTERACTION % filled)
                            if index % 2 == 0:
                                interactions.setdefault(name, []).append(result)
                    return {"load_wall_s": load_wall, "load": load, "js_heap_mib": metrics["JSHeapUsedSize"] / 2**20,
                            "interactions": interactions}
        finally:
            process.terminate()
            process.wait(timeout=30)


def summary(result: dict[str, Any]) -> list[str]:
    load = result["load"]
    lines = [f"{'page load: navigate → load event (wall)':<46} {result['load_wall_s'] * 1000:9.0f} ms"]
    for key, label in (("fcp", "first contentful paint"), ("interactive", "DOM interactive"),
                       ("rows", "first sample rows in the DOM"), ("dom_content_loaded", "DOMContentLoaded end"),
                       ("load", "load event end")):
        value = load.get(key)
        lines.append(f"{'  ' + label:<46} {'n/a' if value is None else f'{value:9.0f} ms'}")
    lines.append(f"{'  JS heap used after load':<46} {result['js_heap_mib']:9.1f} MiB")
    lines.append(f"{'  visible rows / page info':<46} {load['visible_rows']} / {load['info']}")
    for name, runs in result["interactions"].items():
        dom = statistics.median(r["dom"] for r in runs)
        frame = statistics.median(r["frame"] for r in runs)
        lines.append(f"{name + ': DOM updated / next frame (median)':<46} {dom:7.1f} / {frame:7.1f} ms "
                     f"(n={len(runs)}; {runs[0]['rows']} rows, {runs[0]['info']})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hazard", default="vcr", help="hazard to filter on")
    args = parser.parse_args()
    print("\n".join(summary(asyncio.run(measure(args.report, args.repeat, args.hazard)))))


if __name__ == "__main__":
    main()
