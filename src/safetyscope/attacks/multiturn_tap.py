"""TAP, Tree of Attacks with Pruning (Mehrotra et al. 2023): PAIR's attacker grown as a tree. At each depth every
leaf branches ``branching_factor`` times; an evaluator prompt prunes off-topic children, at most ``width`` are
sent to the target and judged, and the ``width`` best-scoring ones are kept as the next leaves. Stops at the
first reply the run's judge calls unsafe, at ``depth`` or when the query budget is spent."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from safetyscope.attacks.attacker import DEFAULT_ATTACKER, Attacker
from safetyscope.attacks.base import attacks
from safetyscope.attacks.multiturn import (
    AttackerSettings,
    Conversation,
    MultiTurnBase,
    MultiTurnContext,
    call_seed,
    goal_of,
    prior_turns,
    prompts,
)
from safetyscope.attacks.multiturn_pair import Candidate, feedback, propose
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.core.text import fill
from safetyscope.runner.concurrency import all_of
from safetyscope.targets.base import Target

_VERDICT = re.compile(r"\[\[\s*(YES|NO)\s*\]\]", re.IGNORECASE)


@dataclass
class Node:
    """A tree node: its path (``0.2.1``) and the attacker conversation that led to it."""

    path: str
    history: list[Message]


@dataclass
class Child:
    node: Node
    candidate: Candidate
    on_topic: bool = True


def read_on_topic(text: str) -> bool:
    """The evaluator's ``[[YES]]`` / ``[[NO]]``; anything else counts as on topic (TAP keeps what it cannot read)."""
    match = _VERDICT.search(text)
    return match is None or match.group(1).upper() == "YES"


class TapAttack(MultiTurnBase):
    """TAP: branch, prune off-topic, query and judge, keep the best ``width``."""

    def __init__(self, attacker: Attacker, settings: AttackerSettings, *, n_streams: int, branching_factor: int,
                 width: int, depth: int, target_str: str) -> None:
        super().__init__("tap", attacker, settings, {"n_streams": n_streams, "branching_factor": branching_factor,
                                                     "width": width, "depth": depth, "target_str": target_str})
        self._roots = n_streams
        self._branching = branching_factor
        self._width = width
        self._depth = depth
        self._target_str = target_str

    async def converse(self, context: MultiTurnContext) -> Conversation:
        goal = goal_of(context.sample)
        before = prior_turns(context.sample)
        rng = random.Random(call_seed(context.seed, "tap-ties"))
        system = next(iter(prompts()["pair"]["system"].values()))  # TAP uses PAIR's role-play attacker prompt
        start = [Message(role="system", content=fill(system, goal=goal, target_str=self._target_str)),
                 Message(role="user", content=fill(prompts()["pair"]["first"], goal=goal,
                                                   target_str=self._target_str))]
        leaves = [Node(str(index), list(start)) for index in range(self._roots)]
        transcript = context.transcript
        for level in range(1, self._depth + 1):
            if context.left <= 0 or not leaves:
                break
            children = await self._branch(context, leaves, level)
            for child in children:
                if child.candidate.prompt is None:
                    transcript.skip(child.node.path, level, child.candidate.raw, child.candidate.note)
            children = [child for child in children if child.candidate.prompt is not None]
            await self._judge_topics(context, goal, children, level)
            on_topic = [child for child in children if child.on_topic]
            for child in children:
                if not child.on_topic:
                    transcript.skip(child.node.path, level, child.candidate.raw, "pruned: off topic")
            if not on_topic and children:
                on_topic = [children[0]]  # every child off topic: keep the single first one (TAP's fallback)
            rng.shuffle(on_topic)  # random tie-break among the equally on-topic, seeded
            survivors = on_topic[:min(self._width, context.left)]
            for child in on_topic[len(survivors):]:
                transcript.skip(child.node.path, level, child.candidate.raw, "pruned: over width or budget")
            results = await transcript.send(context, before, [
                (child.node.path, level, child.candidate.raw, child.candidate.prompt or "") for child in survivors])
            if any(hit for _generation, _score, hit in results):
                break
            scored = sorted(zip(survivors, results, strict=True), key=lambda item: -item[1][1])  # stable: ties shuffled
            leaves = [Node(child.node.path, self.keep(
                [*child.node.history, Message(role="assistant", content=child.candidate.raw),
                 feedback(goal, self._target_str, generation.text, score)]))
                for child, (generation, score, _hit) in scored[:self._width]]
        return transcript.conversation(context.used, "tap")

    async def _branch(self, context: MultiTurnContext, leaves: list[Node], level: int) -> list[Child]:
        plans = [(leaf, index) for leaf in leaves for index in range(self._branching)]
        candidates = await all_of((
            propose(self, leaf.history, call_seed(context.seed, leaf.path, index, level))
            for leaf, index in plans))
        return [Child(Node(f"{leaf.path}.{index}", leaf.history), candidate)
                for (leaf, index), candidate in zip(plans, candidates, strict=True)]

    async def _judge_topics(self, context: MultiTurnContext, goal: str, children: list[Child], level: int) -> None:
        texts = prompts()["tap"]
        system = Message(role="system", content=fill(texts["on_topic_system"], goal=goal))
        verdicts = await all_of(
            self.ask([system, Message(role="user", content=fill(texts["on_topic_user"],
                                                                prompt=child.candidate.prompt or ""))],
                     seed=call_seed(context.seed, child.node.path, "on-topic", level), max_tokens=10,
                     temperature=0.0)
            for child in children)
        for child, text in zip(children, verdicts, strict=True):
            child.on_topic = read_on_topic(text)


@attacks.register("tap", description="TAP: tree of attacks with pruning (branching factor, width, depth, off-topic "
                                     "pruning by an evaluator prompt, query budget, early stop).")
def create_tap(*, attacker: str | Target = DEFAULT_ATTACKER, attacker_options: dict[str, Any] | None = None,
               n_streams: int = 1, branching_factor: int = 4, width: int = 10, depth: int = 10,
               budget: int | None = None, target_str: str = "Sure, here is", keep_last_n: int = 3, tries: int = 3,
               lenient: bool = False, attacker_max_tokens: int = 500, attacker_temperature: float = 1.0) -> TapAttack:
    """Defaults follow the TAP paper (b=4, w=10, d=10); ``budget`` defaults to width × depth target queries."""
    if min(n_streams, branching_factor, width, depth) < 1:
        raise UsageError("tap: n_streams, branching_factor, width and depth must be at least 1")
    settings = AttackerSettings(budget=budget or width * depth, max_tokens=attacker_max_tokens,
                                temperature=attacker_temperature, tries=tries, keep_last_n=keep_last_n,
                                lenient=lenient)
    return TapAttack(Attacker(attacker, options=attacker_options), settings, n_streams=n_streams,
                     branching_factor=branching_factor, width=width, depth=depth, target_str=target_str)
