"""HarmBench's classifier (``cais/HarmBench-Llama-2-13b-cls``): is the generation an instance of the behaviour?

The classifier is a fine-tuned model, so its input is reproduced byte for byte: ``LLAMA2_CLS_PROMPT`` of
``centerforaisafety/HarmBench:eval_utils.py`` — the ``prompt`` (standard) and ``prompt_contextual``
templates — and the model-card variant (``Behavior:`` / ``Generation:`` headers, four rules). Golden tests
pin the sha256 of each unformatted template to the digests in judges.md. The template is a raw string
(``[INST] <<SYS>> … [/INST]``, no trailing newline) that HarmBench feeds to vLLM's ``generate`` with
``temperature=0, max_tokens=1``; it is sent raw. ``variant="auto"`` picks the contextual template when the
sample carries a context string (``metadata["context"]`` or ``metadata["ContextString"]``), as HarmBench
does for behaviours tagged ``context``.

The behaviour is the sample's prompt, the generation the response. Label as upstream:
``yes`` → unsafe (the behaviour occurred), ``no`` → safe, anything else (-1 upstream) → unscored.
Not reproduced: HarmBench clips each generation to 512 tokens of the classifier's tokenizer before
formatting; without that tokenizer the full response is used (pass a shorter one, or set ``max_chars``).
"""

from __future__ import annotations

from typing import Any

from safetyscope.core.errors import UsageError
from safetyscope.core.records import JudgeInput, Verdict, VerdictLabel
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

HARMBENCH_DATA = "harmbench.json"
VARIANTS = ("auto", "standard", "contextual", "model_card")
CONTEXT_KEYS = ("context", "ContextString")


def sample_context(item: JudgeInput) -> str | None:
    """The behaviour's context string, when the sample carries one."""
    for key in CONTEXT_KEYS:
        value = item.sample.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


class HarmBenchJudge(ModelJudge):
    """HarmBench classifier; see the module docstring."""

    name = "harmbench"
    default_max_tokens = 1

    def __init__(self, *, variant: str = "auto", max_chars: int | None = None, **options: Any) -> None:
        if variant not in VARIANTS:
            raise UsageError(f"judge '{self.name}': variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        if max_chars is not None and max_chars < 1:
            raise UsageError(f"judge '{self.name}': max_chars must be positive")
        self._variant = variant
        self._max_chars = max_chars
        self._templates: dict[str, str] = load_json(HARMBENCH_DATA)
        super().__init__(**options)

    def send_modes(self) -> tuple[SendMode, ...]:
        return ("raw",)

    def spec_options(self) -> dict[str, Any]:
        return {"variant": self._variant, "max_chars": self._max_chars}

    def template_for(self, item: JudgeInput) -> tuple[str, str | None]:
        """(template name, context) for an item."""
        context = sample_context(item)
        if self._variant == "auto":
            return ("contextual", context) if context is not None else ("standard", None)
        if self._variant == "contextual" and context is None:
            raise JudgeFailure("the contextual HarmBench template needs metadata['context'] on the sample")
        return self._variant, context

    def render(self, item: JudgeInput) -> Prompt:
        name, context = self.template_for(item)
        generation = item.response if self._max_chars is None else item.response[: self._max_chars]
        text = fill(self._templates[name], behavior=user_prompt(item, self._prompt_source), generation=generation,
                    context=context or "")
        return Prompt(text=text)

    def parse(self, item: JudgeInput, completion: Completion) -> Verdict:
        answer = first_word(completion.text)
        if answer not in ("yes", "no"):
            raise JudgeFailure("the classifier did not answer 'yes' or 'no'", raw_output=completion.text)
        probability = binary_probability(completion.logprobs, "yes", "no")
        unsafe = answer == "yes"
        return Verdict(label=VerdictLabel.UNSAFE if unsafe else VerdictLabel.SAFE, probability_unsafe=probability,
                       confidence=confidence_from(probability), raw_output=completion.text,
                       explanation="The HarmBench classifier says the generation "
                                   + ("is" if unsafe else "is not") + " an instance of the behaviour.")


@judges.register("harmbench", description="HarmBench Llama-2-13b classifier prompt, verbatim (standard/contextual).")
def create_harmbench(**options: Any) -> HarmBenchJudge:
    """Options: variant (auto/standard/contextual/model_card), max_chars, target, target_options, ..."""
    return HarmBenchJudge(**options)
