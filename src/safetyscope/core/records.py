"""Typed records that flow through the pipeline: sample → attempt → response → verdict."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Record):
    """One chat turn."""

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks this turn.")
    content: str = Field(description="The text of the turn.")


class Expectation(StrEnum):
    """What a well-behaved model should do with a sample."""

    REFUSE = "refuse"
    COMPLY = "comply"


class Sample(_Record):
    """One test case, as loaded from a dataset."""

    id: str = Field(description="Unique within its dataset.")
    messages: tuple[Message, ...] = Field(description="The conversation to send; the last turn is the user's.")
    hazard: str = Field(description="Canonical hazard code (AILuminate v1.0), 'benign', or 'unmapped' (the "
                                    "source's category has no canonical hazard).")
    expect: Expectation = Field(description="refuse for unsafe requests, comply for benign ones.")
    language: str = Field(default="en", description="BCP-47 language tag of the prompt.")
    dataset: str = Field(default="", description="Name of the dataset the sample came from.")
    source_hazard: str | None = Field(default=None, description="Hazard code in the source taxonomy.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free metadata from the source.")

    @property
    def prompt(self) -> str:
        """The text of the last user turn."""
        return self.messages[-1].content


class GenerationParams(_Record):
    """Decoding settings sent with every target call; part of the call's cache key."""

    max_tokens: int = Field(default=128, ge=1, description="Upper bound on generated tokens.")
    temperature: float = Field(default=0.0, ge=0.0, description="Sampling temperature; 0 is greedy.")
    seed: int | None = Field(default=0, description="Sampling seed where the backend honours one.")
    stop: tuple[str, ...] = Field(default=(), description="Stop sequences.")
    system_prompt: str | None = Field(default=None, description="Prepended as a system turn when set.")


class Generation(_Record):
    """What a target returned for one call."""

    text: str = Field(description="The generated text.")
    finish_reason: str | None = Field(default=None, description="Backend's reason for stopping.")
    latency_ms: float = Field(default=0.0, description="Wall time of the call, retries excluded.")
    prompt_tokens: int | None = Field(default=None, description="Prompt tokens, when reported.")
    completion_tokens: int | None = Field(default=None, description="Generated tokens, when reported.")


class VerdictLabel(StrEnum):
    """The three-way tally: an unscored item is never counted as safe."""

    UNSAFE = "unsafe"
    SAFE = "safe"
    UNSCORED = "unscored"


class RefusalState(StrEnum):
    """Did the response refuse the request?"""

    REFUSED = "refused"
    PARTIAL = "partial"
    COMPLIED = "complied"


class Verdict(_Record):
    """A judge's reading of one response."""

    label: VerdictLabel = Field(description="unsafe / safe / unscored.")
    refusal: RefusalState | None = Field(default=None, description="Refusal state, when the judge decides it.")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="Judge's confidence in label.")
    probability_unsafe: float | None = Field(default=None, ge=0.0, le=1.0, description="P(unsafe), if given.")
    categories: tuple[str, ...] = Field(default=(), description="Canonical hazard codes the judge named.")
    explanation: str = Field(default="", description="Why, in a sentence.")
    evidence: tuple[str, ...] = Field(default=(), description="Spans or features that drove the decision.")
    unscored_reason: str | None = Field(default=None, description="Why the item could not be scored.")
    raw_output: str | None = Field(default=None, description="Judge model's raw text, for model judges.")
    transient: bool = Field(default=False, description="The judge could not run (its model or API was unreachable): "
                            "such a verdict is never stored, and the attempt is retried on resume.")

    @classmethod
    def unscored(cls, reason: str, *, raw_output: str | None = None, transient: bool = False) -> Verdict:
        """A verdict for an item that could not be scored (empty output, unparseable, judge model down)."""
        return cls(label=VerdictLabel.UNSCORED, unscored_reason=reason, raw_output=raw_output, explanation=reason,
                   transient=transient)


class JudgeInput(_Record):
    """Everything a judge may read about one attempt."""

    sample: Sample = Field(description="The original test case.")
    sent: tuple[Message, ...] = Field(description="The messages actually sent (after attacks).")
    response: str = Field(description="The response text, decoded where the attack encoded it.")


class ComponentSpec(_Record):
    """Identity of a target, judge or attack: what it is and the options that change its output."""

    kind: Literal["target", "judge", "attack"] = Field(description="Which registry made it.")
    name: str = Field(description="Registered name or address, e.g. 'openai/gpt-4o-mini'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Options that change outputs (no secrets).")

    def __str__(self) -> str:
        return self.name
