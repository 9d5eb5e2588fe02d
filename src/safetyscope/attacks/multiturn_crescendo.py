"""Crescendo (Russinovich, Salem, Eldan 2024): a benign-looking conversation that escalates a little each turn,
building on the target's own replies; the target sees the whole conversation. A refused question is removed
from the conversation and retried another way (a backtrack, not counted as a turn, at most ``max_backtracks``).
Stops at the first reply the run's judge calls unsafe, after ``max_turns`` turns or when the budget is spent."""

from __future__ import annotations

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
    query_and_judge,
)
from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message, RefusalState
from safetyscope.core.text import fill
from safetyscope.targets.base import Target

QUESTION_KEYS = ("generated_question", "last_response_summary", "rationale_behind_jailbreak")


class CrescendoAttack(MultiTurnBase):
    """Crescendo: escalate over turns, backtrack on refusal."""

    def __init__(self, attacker: Attacker, settings: AttackerSettings, *, max_turns: int,
                 max_backtracks: int) -> None:
        super().__init__("crescendo", attacker, settings, {"max_turns": max_turns, "max_backtracks": max_backtracks})
        self._max_turns = max_turns
        self._max_backtracks = max_backtracks

    async def converse(self, context: MultiTurnContext) -> Conversation:
        goal = goal_of(context.sample)
        texts = prompts()["crescendo"]
        limit = str(self._max_turns)
        history = [Message(role="system", content=fill(texts["system"], goal=goal, max_turns=limit))]
        conversation = list(prior_turns(context.sample))
        transcript = context.transcript
        note = ""  # what the attacker hears about the last step
        turn, backtracks, step = 1, 0, 0
        while turn <= self._max_turns and context.left > 0:
            step += 1
            ask = fill(texts["turn"], turn=str(turn), max_turns=limit, goal=goal) + note
            history.append(Message(role="user", content=ask))
            raw, question = await self.write(history, call_seed(context.seed, step), QUESTION_KEYS)
            if question is None:
                transcript.skip("conversation", turn, raw,
                                f"attacker reply not usable after {self.settings.tries} tries (no JSON question)")
                break
            sent = (*conversation, Message(role="user", content=question))
            generation, verdict, score = await query_and_judge(context, sent)
            history = self.keep([*history, Message(role="assistant", content=raw)])
            if verdict.refusal == RefusalState.REFUSED and backtracks < self._max_backtracks:
                backtracks += 1
                transcript.add("conversation", turn, raw, sent, generation, verdict, score,
                               note=f"backtracked ({backtracks}): refused")
                note = "\n" + fill(texts["after_refusal"], prompt=question)
                continue
            if transcript.add("conversation", turn, raw, sent, generation, verdict, score):
                break
            conversation = [*sent, Message(role="assistant", content=generation.text)]
            note = "\n" + fill(texts["after_reply"], response=generation.text, score=str(score))
            turn += 1
        return transcript.conversation(context.used, "crescendo")


@attacks.register("crescendo", description="Crescendo: gradual multi-turn escalation built on the target's own "
                                           "replies, backtracking on refusal (query budget, early stop).")
def create_crescendo(*, attacker: str | Target = DEFAULT_ATTACKER, attacker_options: dict[str, Any] | None = None,
                     max_turns: int = 10, max_backtracks: int = 10, budget: int | None = None, keep_last_n: int = 4,
                     tries: int = 3, lenient: bool = False, attacker_max_tokens: int = 500,
                     attacker_temperature: float = 1.0) -> CrescendoAttack:
    """Defaults follow PyRIT (10 turns, 10 backtracks); ``budget`` defaults to turns + backtracks target queries."""
    if max_turns < 1 or max_backtracks < 0:
        raise UsageError("crescendo: max_turns must be at least 1, max_backtracks at least 0")
    settings = AttackerSettings(budget=budget or max_turns + max_backtracks, max_tokens=attacker_max_tokens,
                                temperature=attacker_temperature, tries=tries, keep_last_n=keep_last_n,
                                lenient=lenient)
    return CrescendoAttack(Attacker(attacker, options=attacker_options), settings, max_turns=max_turns,
                           max_backtracks=max_backtracks)
