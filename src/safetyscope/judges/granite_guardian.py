"""IBM Granite Guardian 3.0 (``ibm-granite/granite-guardian-3.0-{2b,8b}``): one risk per call, ``Yes``/``No``.

Prompt: what the model's chat template renders for ``guardian_config={"risk_name": …}`` (or a custom
``risk_definition``): ``<|start_of_role|>user<|end_of_role|>`` + the task sentence + the ``<start_of_turn>``
block with ``User Message:`` (and ``Assistant Message:`` when judging a response) + the risk definition
between ``<start_of_risk_definition>`` tags + the question + ``<|end_of_text|>\\n<|start_of_role|>assistant
<|end_of_role|>``. The risk bank (harm, social_bias, jailbreak, profanity, sexual_content,
unethical_behavior, violence) has one definition for the user message and one for the assistant message.

Sending: ``chat`` sends the conversation; the server's Granite Guardian template renders the prompt. The
risk travels two ways at once, harmlessly: as a system message holding the risk name (how Ollama's
``granite3-guardian`` template selects it) and, for ``openai/...`` targets, as
``chat_template_kwargs: {"guardian_config": …}`` in the request body (how vLLM passes it to the HF
template). ``raw`` sends the rendered text. Output ``Yes`` (risk present) → unsafe. P(risk) from ``Yes``
against ``No`` log-probabilities (the cookbook sums top-20 matches; here the top 5 at the first token).
"""

from __future__ import annotations

from typing import Any

from safetyscope.core.errors import UsageError
from safetyscope.core.records import JudgeInput, Message, Verdict, VerdictLabel
from safetyscope.core.text import fill
from safetyscope.judges.base import judges
from safetyscope.judges.model import (
    Completion,
    JudgeFailure,
    ModelJudge,
    Prompt,
    SendMode,
    binary_probability,
    confidence_from,
    first_word,
    load_json,
    user_prompt,
)
from safetyscope.taxonomy.canonical import BENIGN, canonical_code

GRANITE_DATA = "granite_guardian.json"


class GraniteGuardianJudge(ModelJudge):
    """Granite Guardian 3.0; see the module docstring."""

    name = "granite-guardian"
    default_max_tokens = 4

    def __init__(self, *, risk: str = "harm", risk_definition: str | None = None, hazards: list[str] | None = None,
                 side: str = "response", **options: Any) -> None:
        self._data = load_json(GRANITE_DATA)
        bank: dict[str, Any] = self._data["risks"]
        if side not in ("response", "prompt"):
            raise UsageError(f"judge '{self.name}': side must be 'response' or 'prompt', not {side!r}")
        if risk in bank and risk_definition is not None:
            raise UsageError(f"'{risk}' is a built-in risk; its definition cannot be replaced (pick a new name)")
        if risk not in bank and risk_definition is None:
            raise UsageError(f"unknown risk '{risk}' (built in: {', '.join(bank)}); a new risk needs risk_definition")
        self._side = side
        self._risk = risk
        self._risk_definition = risk_definition
        self._definition = risk_definition if risk_definition is not None else bank[risk][
            "response" if side == "response" else "prompt"]
        given = hazards if hazards is not None else (bank[risk]["hazards"] if risk in bank else [])
        checked = [canonical_code(str(h)) for h in given]
        if any(c is None or c == BENIGN for c in checked):
            raise UsageError(f"hazards: unknown canonical hazard in {given!r}")
        self._hazards = tuple(c for c in checked if c is not None)
        self._hazards_option = list(hazards) if hazards is not None else None
        super().__init__(**options)

    def send_modes(self) -> tuple[SendMode, ...]:
        return ("chat", "raw") if self._risk_definition is None else ("raw", "chat")

    def spec_options(self) -> dict[str, Any]:
        return {"risk": self._risk, "risk_definition": self._risk_definition, "hazards": self._hazards_option,
                "side": self._side}

    def requires_response(self) -> bool:
        return self._side == "response"

    def guardian_config(self) -> dict[str, str]:
        """The ``guardian_config`` the HF chat template takes."""
        config = {"risk_name": self._risk}
        if self._risk_definition is not None:
            config["risk_definition"] = self._risk_definition
        return config

    def target_options(self) -> dict[str, Any]:
        options = super().target_options()
        if self.send == "chat" and self._target_address.startswith("openai/"):
            extra = dict(options.get("extra_body") or {})
            extra.setdefault("chat_template_kwargs", {"guardian_config": self.guardian_config()})
            options["extra_body"] = extra
        return options

    def render(self, item: JudgeInput) -> Prompt:
        question = user_prompt(item, self._prompt_source)
        acts = self._data["assistant" if self._side == "response" else "user"]
        second = fill(acts["second_act"], user_text=question, assistant_text=item.response)
        second += fill(self._data["definition"], risk_definition=self._definition)
        text = (self._data["before"] + acts["first_act"] + "\n\n" + second + "\n\n" + acts["third_act"]
                + self._data["after"])
        chat: list[Message] = []
        if self._risk != "harm":
            chat.append(Message(role="system", content=self._risk))
        chat.append(Message(role="user", content=question))
        if self._side == "response":
            chat.append(Message(role="assistant", content=item.response))
        return Prompt(text=text, chat=tuple(chat))

    def parse(self, item: JudgeInput, completion: Completion) -> Verdict:
        answer = first_word(completion.text.replace("<score>", " "))
        if answer not in ("yes", "no"):
            raise JudgeFailure("the judge model did not answer 'Yes' or 'No'", raw_output=completion.text)
        probability = binary_probability(completion.logprobs, "yes", "no")
        judged = "assistant message" if self._side == "response" else "user message"
        if answer == "no":
            return Verdict(label=VerdictLabel.SAFE, probability_unsafe=probability,
                           confidence=confidence_from(probability), raw_output=completion.text,
                           explanation=f"Granite Guardian finds no '{self._risk}' risk in the {judged}.")
        return Verdict(label=VerdictLabel.UNSAFE, probability_unsafe=probability,
                       confidence=confidence_from(probability),
                       categories=self._hazards, evidence=(f"risk: {self._risk}",), raw_output=completion.text,
                       explanation=f"Granite Guardian finds '{self._risk}' risk in the {judged}.")


@judges.register("granite-guardian", description="IBM Granite Guardian 3.0 exact format: one risk per call, Yes/No.")
def create_granite_guardian(**options: Any) -> GraniteGuardianJudge:
    """Options: risk, risk_definition, hazards, side, target, target_options, send, max_tokens, logprobs."""
    return GraniteGuardianJudge(**options)
