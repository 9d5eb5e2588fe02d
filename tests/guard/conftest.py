"""Fixtures for the guard tests: scripted test-only experts, engines on a temporary store, real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safetyscope.core.records import ComponentSpec, JudgeInput, Verdict, VerdictLabel
from safetyscope.guard import ExpertSpec, GuardEngine, GuardPolicy, GuardStore


class ScriptedJudge:
    """A test-only expert: ``rule(text) -> Verdict``; optional delay; ``fail=True`` raises."""

    def __init__(self, name: str, rule: Callable[[str], Verdict], *, delay_s: float = 0.0, fail: bool = False):
        self.name = name
        self.rule = rule
        self.delay_s = delay_s
        self.fail = fail
        self.calls = 0

    @property
    def spec(self) -> ComponentSpec:
        return ComponentSpec(kind="judge", name=f"scripted-{self.name}")

    async def judge(self, item: JudgeInput) -> Verdict:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("expert exploded")
        text = item.response if item.response else item.sample.prompt
        return self.rule(text)


def keyword_rule(word: str, categories: tuple[str, ...] = ("vcr",), probability: float | None = None,
                 ) -> Callable[[str], Verdict]:
    """Unsafe (with ``categories``) when ``word`` occurs in the text."""

    def rule(text: str) -> Verdict:
        if word in text.lower():
            return Verdict(label=VerdictLabel.UNSAFE, categories=categories, probability_unsafe=probability)
        return Verdict(label=VerdictLabel.SAFE, probability_unsafe=None if probability is None else 1 - probability)

    return rule


def always(label: str) -> Callable[[str], Verdict]:
    def rule(_text: str) -> Verdict:
        if label == "unscored":
            return Verdict.unscored("cannot read")
        return Verdict(label=VerdictLabel(label), categories=("vcr",) if label == "unsafe" else ())

    return rule


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GuardStore]:
    opened = GuardStore.open(str(tmp_path / "guard.sqlite"))
    yield opened
    opened.close()


MakeEngine = Callable[..., GuardEngine]


@pytest.fixture
def make_engine(store: GuardStore) -> MakeEngine:
    """``make_engine({name: judge}, **policy_fields)`` → an engine whose experts are the given judges."""

    def build(experts: dict[str, ScriptedJudge], timeout_s: float = 2.0, **fields: Any) -> GuardEngine:
        specs = tuple(ExpertSpec(name=name, judge="refusal", timeout_s=timeout_s) for name in experts)
        policy = GuardPolicy(experts=specs, **fields)
        return GuardEngine(policy, store, judges=dict(experts))

    return build


@pytest.fixture
def scripted() -> type[ScriptedJudge]:
    return ScriptedJudge


@pytest.fixture
def rules() -> dict[str, Any]:
    return {"keyword": keyword_rule, "always": always}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GuardServer:
    """A real ``safetyscope guard serve`` subprocess; its stdout and stderr go to ``log``."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        code = "import sys; from safetyscope.cli.guard_cmd import guard_app; guard_app(sys.argv[1:])"
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(self.port), *args],
                                            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def wait_ready(self, timeout_s: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"guard server did not start: {self.output()[-2000:]}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then wait (kill after 20 s); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("guard server ignored SIGTERM for 20 s")


@pytest.fixture
def guard_server(tmp_path: Path) -> Iterator[Callable[..., GuardServer]]:
    """``guard_server(*args, env=...)`` starts a server (ready to serve); all are stopped at the end."""
    started: list[GuardServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> GuardServer:
        server = GuardServer(list(args), tmp_path / f"server-{len(started)}.log", env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def llama_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server running the embedded SmolLM2 GGUF on 127.0.0.1 (…/v1)."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    from safetyscope.targets.embedded import resolve_model_path

    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-upstream") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_model_path("smollm2-135m")),
             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "1024"],
            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("llama_cpp.server did not start within 120 s")
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)
