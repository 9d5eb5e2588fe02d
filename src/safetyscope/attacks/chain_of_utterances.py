"""Chain of Utterances (RED-EVAL, Bhardwaj & Poria 2023): a Red-LM / Base-LM conversation with a worked
example in which Base-LM answers a harmful question after an ``(Internal thought: ...)``, then the request as
Red-LM's turn and an open ``Base-LM:`` for the model to complete. S-Eval's ``chain_of_utterances`` attack is
this template. Wording and worked example are ours; layout as ``declare-lab/red-instruct:red_prompts/cou.txt``.
"""

from __future__ import annotations

import random

from safetyscope.attacks._common import RewriteAttack, read_data_text
from safetyscope.attacks.base import register_deterministic
from safetyscope.core.text import fill

_THOUGHT = "(internal thought:"


def strip_internal_thought(response: str) -> str:
    """RED-EVAL's post-processing: drop everything up to the end of the ``(Internal thought: ...)`` aside.
    Unlike upstream (first ``)``), parentheses nested inside the thought are balanced; an aside that never
    closes leaves the reply unchanged."""
    start = response.lower().find(_THOUGHT)
    if start < 0:
        return response
    depth = 0
    for index in range(start, len(response)):
        if response[index] == "(":
            depth += 1
        elif response[index] == ")":
            depth -= 1
            if depth == 0:
                return response[index + 1:].lstrip()
    return response


class ChainOfUtterances(RewriteAttack):
    def __init__(self) -> None:
        super().__init__("chain_of_utterances")
        self.template = read_data_text("chain_of_utterances.txt")

    def rewrite(self, prompt: str, rng: random.Random) -> str:
        return fill(self.template, question=prompt.strip())

    def decode(self, response: str) -> str:
        return strip_internal_thought(response)


@register_deterministic("chain_of_utterances", description="Chain of Utterances (RED-EVAL; also S-Eval): "
                        "Red-LM/Base-LM conversation template; strips Base-LM's '(Internal thought: ...)'.")
def create_chain_of_utterances() -> ChainOfUtterances:
    return ChainOfUtterances()
