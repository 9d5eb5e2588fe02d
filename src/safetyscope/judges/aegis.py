"""NVIDIA's content-safety guards: Aegis 1.0 (Llama Guard format) and NemoGuard / Aegis 2.0 (JSON output).

**Aegis 1.0** (``nvidia/Aegis-AI-Content-Safety-LlamaGuard-{Defensive,Permissive}-1.0``, LoRA adapters on
``meta-llama/LlamaGuard-7b``): the Llama Guard 1 prompt (``[INST] … [/INST]``, "Provide your safety
assessment for {role} in the above conversation") with Aegis's 13 categories and their policy text, O1–O13,
as in the model card. Output ``safe`` / ``unsafe`` + ``O<k>``; codes map through the ``aegis-1.0`` taxonomy
(O12 Profanity and O13 Needs Caution are unsafe verdicts without a canonical hazard). The base model's chat
template would insert Llama Guard 1's own categories, so the prompt is always sent raw.

**NemoGuard** (``nvidia/llama-3.1-nemoguard-8b-content-safety``, trained on Aegis 2.0): the prompt of NeMo
Guardrails' ``content_safety_check_input`` / ``…_output`` tasks, sent as one user message (the server
applies Llama 3.1's chat template, as the NIM and vLLM do). Output JSON
``{"User Safety": …, "Response Safety": …, "Safety Categories": "Violence, Threat"}`` with category *names*,
mapped through the ``aegis-2.0`` taxonomy. NeMo treats an unparseable reply as unsafe; here it is unscored.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from safetyscope.core.errors import UsageError
from safetyscope.core.records import JudgeInput, Message, Verdict, VerdictLabel
from safetyscope.core.text import fill
from safetyscope.judges.base import judges
from safetyscope.judges.llama_guard import LlamaGuardStyleJudge, load_guard_format
from safetyscope.judges.model import (
    Completion,
    JudgeFailure,
    ModelJudge,
    Prompt,
    SendMode,
    load_json,
    user_prompt,
)
from safetyscope.taxonomy.catalog import TaxonomyCatalog

AEGIS_DATA = "aegis.json"


class AegisJudge(LlamaGuardStyleJudge):
    """Aegis 1.0: the Llama Guard 1 format with Aegis's O1–O13 policy (see the module docstring)."""

    name = "aegis-1.0"
    chat_template_available = False

    def __init__(self, **options: Any) -> None:
        data = load_json(AEGIS_DATA)
        fmt = replace(load_guard_format("1", categories=data["aegis_1_categories"]), title="Aegis 1.0",
                      taxonomy="aegis-1.0")
        super().__init__(fmt, **options)


_SAFETY_VALUE = r'"?\s*:\s*"?\s*(safe|unsafe)\b'


def parse_nemoguard(text: str) -> dict[str, Any]:
    """The JSON object in a NemoGuard reply; falls back to reading ``"User Safety": unsafe``-style pairs when
    the JSON is broken (e.g. cut off by the token limit). Raises :class:`JudgeFailure` when neither works."""
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        try:
            data = json.loads(text[start:end + 1])
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return data
    found: dict[str, Any] = {}
    for key in ("User Safety", "Response Safety"):
        match = re.search(re.escape(key) + _SAFETY_VALUE, text, re.IGNORECASE)
        if match:
            found[key] = match.group(1).lower()
    categories = re.search(r'Safety Categories"?\s*:\s*"([^"]*)"', text, re.IGNORECASE)
    if categories:
        found["Safety Categories"] = categories.group(1)
    if not found:
        raise JudgeFailure("the judge model did not return the NemoGuard JSON", raw_output=text)
    return found


class NemoGuardJudge(ModelJudge):
    """NemoGuard content safety (Aegis 2.0 taxonomy); see the module docstring."""

    name = "nemoguard"
    default_max_tokens = 50

    def __init__(self, *, side: str = "response", categories: list[str] | None = None, **options: Any) -> None:
        data = load_json(AEGIS_DATA)
        if side not in ("response", "prompt"):
            raise UsageError(f"judge '{self.name}': side must be 'response' or 'prompt', not {side!r}")
        self._side = side
        self._categories_option = list(categories) if categories is not None else None
        names = self._categories_option if self._categories_option is not None else data["nemoguard_categories"]
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise UsageError(f"judge '{self.name}': categories must be a non-empty list of names")
        self._names: list[str] = [str(n) for n in names]
        self._template: str = data["nemoguard_prompt"]
        self._user_turn: str = data["nemoguard_user_turn"]
        self._agent_turn: str = data["nemoguard_agent_turn"]
        self._catalog = TaxonomyCatalog()
        super().__init__(**options)

    def send_modes(self) -> tuple[SendMode, ...]:
        return ("chat", "raw")

    def spec_options(self) -> dict[str, Any]:
        return {"side": self._side, "categories": self._categories_option}

    def requires_response(self) -> bool:
        return self._side == "response"

    def render(self, item: JudgeInput) -> Prompt:
        conversation = fill(self._user_turn, user_input=user_prompt(item, self._prompt_source))
        if self._side == "response":
            conversation += fill(self._agent_turn, bot_response=item.response)
        categories = "\n".join(f"S{i + 1}: {name}." for i, name in enumerate(self._names))
        text = fill(self._template, categories=categories, conversation=conversation)
        return Prompt(text=text, chat=(Message(role="user", content=text),))

    def parse(self, item: JudgeInput, completion: Completion) -> Verdict:
        data = parse_nemoguard(completion.text)
        key = "Response Safety" if self._side == "response" else "User Safety"
        value = str(data.get(key, "")).strip().lower()
        if value not in ("safe", "unsafe"):
            raise JudgeFailure(f"the NemoGuard reply has no usable '{key}' field", raw_output=completion.text)
        judged = "the agent's response" if self._side == "response" else "the user's prompt"
        if value == "safe":
            return Verdict(label=VerdictLabel.SAFE, raw_output=completion.text,
                           explanation=f"NemoGuard rates {judged} safe.")
        raw_categories = data.get("Safety Categories") or ""
        listed = raw_categories if isinstance(raw_categories, list) else str(raw_categories).split(",")
        hazards: dict[str, None] = {}
        evidence: list[str] = []
        taxonomy = self._catalog.load("aegis-2.0") if self._categories_option is None else None
        for name in (str(n).strip() for n in listed):
            if not name:
                continue
            entry = taxonomy.find(name) if taxonomy is not None else None
            if entry is not None:
                hazards.update(dict.fromkeys(entry.hazards))
                evidence.append(f"{entry.code}: {entry.name}")
            else:
                evidence.append(f"{name}: not in the taxonomy" if taxonomy is not None else name)
        named = ", ".join(evidence) if evidence else "no category named"
        return Verdict(label=VerdictLabel.UNSAFE, categories=tuple(hazards), evidence=tuple(evidence),
                       raw_output=completion.text, explanation=f"NemoGuard rates {judged} unsafe ({named}).")


@judges.register("aegis-1.0", description="NVIDIA Aegis 1.0 (LlamaGuard-7b LoRA): Llama Guard 1 format, O1-O13 policy.")
def create_aegis(**options: Any) -> AegisJudge:
    """Options: categories, excluded, side, target, target_options, send (raw only), max_tokens, logprobs."""
    return AegisJudge(**options)


@judges.register("nemoguard", description="NVIDIA NemoGuard content safety (Aegis 2.0, 23 categories), JSON output.")
def create_nemoguard(**options: Any) -> NemoGuardJudge:
    """Options: side, categories (names), target, target_options, send, max_tokens."""
    return NemoGuardJudge(**options)
