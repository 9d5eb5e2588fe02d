"""Fixtures for the guard tests: scripted test-only experts and engines on a temporary store."""

from __future__ import annotations

import asyncio
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
