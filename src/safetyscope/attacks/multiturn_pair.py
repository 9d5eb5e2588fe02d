"""PAIR (Chao et al. 2023): ``n_streams`` attacker conversations, each refining a jailbreak prompt over
``n_iterations`` from the target's reply and the judge's score; the target sees only the candidate prompt.
Stops at the first reply the run's judge calls unsafe."""

from __future__ import annotations

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
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.core.text import fill
from safetyscope.runner.concurrency import all_of
from safetyscope.targets.base import Target

PROMPT_KEYS = ("prompt", "improvement")  # the first is the one used


@dataclass
class Stream:
    """One attacker conversation (its history) and where it is."""

    index: int
    history: list[Message]


@dataclass(frozen=True)
class Candidate:
    """An attacker step: the raw reply and the prompt parsed from it (None when unusable)."""

    raw: str
    prompt: str | None
    note: str = ""


async def propose(attack: MultiTurnBase, history: list[Message], seed: int) -> Candidate:
    """The attacker's next prompt (PAIR's JSON). An attacker whose calls fail raises AttackError; one that only
    writes unusable replies gives a candidate without a prompt."""
    raw, prompt = await attack.write(history, seed, PROMPT_KEYS)
    note = "" if prompt else f"attacker reply not usable after {attack.settings.tries} tries (no JSON prompt)"
    return Candidate(raw=raw, prompt=prompt, note=note)


def feedback(goal: str, target_str: str, reply: str, score: int) -> Message:
    return Message(role="user", content=fill(prompts()["pair"]["feedback"], response=reply, goal=goal,
                                             target_str=target_str, score=str(score)))


class PairAttack(MultiTurnBase):
    """PAIR: streams × iterations of attacker refinement, judged by the run's judge."""

    def __init__(self, attacker: Attacker, settings: AttackerSettings, *, n_streams: int, n_iterations: int,
                 target_str: str) -> None:
        super().__init__("pair", attacker, settings, {"n_streams": n_streams, "n_iterations": n_iterations,
                                                      "target_str": target_str})
        self._streams = n_streams
        self._iterations = n_iterations
        self._target_str = target_str

    async def converse(self, context: MultiTurnContext) -> Conversation:
        goal = goal_of(context.sample)
        before = prior_turns(context.sample)
        systems = list(prompts()["pair"]["system"].values())
        first = fill(prompts()["pair"]["first"], goal=goal, target_str=self._target_str)
        streams = [Stream(index, [Message(role="system", content=fill(systems[index % len(systems)], goal=goal,
                                                                        target_str=self._target_str)),
                                  Message(role="user", content=first)])
                   for index in range(self._streams)]
        transcript = context.transcript
        for iteration in range(1, self._iterations + 1):
            if context.left <= 0 or not streams:
                break
            candidates = await all_of(
                propose(self, stream.history, call_seed(context.seed, stream.index, iteration))
                for stream in streams)
            usable = []
            for stream, candidate in zip(streams, candidates, strict=True):
                if candidate.prompt is None:
                    transcript.skip(f"stream {stream.index}", iteration, candidate.raw, candidate.note)
                else:
                    usable.append((stream, candidate))
            usable = usable[:context.left]  # the budget caps the queries of this iteration, in stream order
            results = await transcript.send(context, before, [
                (f"stream {stream.index}", iteration, candidate.raw, candidate.prompt or "")
                for stream, candidate in usable])
            for (stream, candidate), (generation, score, _hit) in zip(usable, results, strict=True):
                stream.history = self.keep([*stream.history, Message(role="assistant", content=candidate.raw),
                                            feedback(goal, self._target_str, generation.text, score)])
            if any(hit for _generation, _score, hit in results):
                break
        return transcript.conversation(context.used, "pair")


@attacks.register("pair", description="PAIR: an attacker model refines a jailbreak from the target's reply and the "
                                      "judge's score (streams × iterations, query budget, early stop).")
def create_pair(*, attacker: str | Target = DEFAULT_ATTACKER, attacker_options: dict[str, Any] | None = None,
                n_streams: int = 3, n_iterations: int = 3, budget: int | None = None,
                target_str: str = "Sure, here is", keep_last_n: int = 4, tries: int = 3, lenient: bool = False,
                attacker_max_tokens: int = 500, attacker_temperature: float = 1.0) -> PairAttack:
    """Defaults follow the PAIR repository (3 streams × 3 iterations, attacker temperature 1, 500 tokens);
    ``budget`` defaults to streams × iterations target queries."""
    if n_streams < 1 or n_iterations < 1:
        raise UsageError("pair: n_streams and n_iterations must be at least 1")
    settings = AttackerSettings(budget=budget or n_streams * n_iterations, max_tokens=attacker_max_tokens,
                                temperature=attacker_temperature, tries=tries, keep_last_n=keep_last_n,
                                lenient=lenient)
    return PairAttack(Attacker(attacker, options=attacker_options), settings, n_streams=n_streams,
                      n_iterations=n_iterations, target_str=target_str)
