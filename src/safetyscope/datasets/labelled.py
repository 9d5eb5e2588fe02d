"""Labelled judge sets: model responses with human labels, to measure a judge against people.

A :class:`LabelledResponse` is one (sample, response) pair with its human label. ``label_kind`` says what was
labelled:

* ``refusal`` (XSTest): ``full_compliance`` / ``full_refusal`` / ``partial_refusal``
  (:attr:`LabelledResponse.refusal` gives the matching :class:`RefusalState`);
* ``harmfulness`` (HarmBench classifier val set, BeaverTails, OpenAI moderation, Aegis 2.0): ``unsafe`` (the
  response is harmful / the attack succeeded) or ``safe`` (:attr:`LabelledResponse.verdict` gives the matching
  :class:`VerdictLabel`).

``side`` says which text the label is about: the ``response`` (the default) or the user's ``prompt`` (Aegis 2.0's
``prompt_label``, OpenAI moderation texts read as prompts); a prompt-side item may have an empty response.
Measure prompt-side labels with a prompt judge (``prompt-harm``, a guard-model judge with ``side=prompt``, or the
``guard`` judge with ``direction=input``).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safetyscope.core.records import RefusalState, Sample, VerdictLabel
from safetyscope.datasets.base import BaseCollection


class LabelKind(StrEnum):
    """What the human label judges."""

    REFUSAL = "refusal"
    HARMFULNESS = "harmfulness"


REFUSAL_LABELS: dict[str, RefusalState] = {
    "full_compliance": RefusalState.COMPLIED,
    "full_refusal": RefusalState.REFUSED,
    "partial_refusal": RefusalState.PARTIAL,
}
HARM_LABELS: dict[str, VerdictLabel] = {"unsafe": VerdictLabel.UNSAFE, "safe": VerdictLabel.SAFE}
Side = Literal["prompt", "response"]
SIDES: tuple[Side, ...] = ("prompt", "response")


class LabelledResponse(BaseModel):
    """One model response with its human label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample: Sample = Field(description="The prompt as sent (its id is unique within the set).")
    response: str = Field(description="The model's response.")
    human_label: str = Field(description="refusal: full_compliance|full_refusal|partial_refusal; "
                                         "harmfulness: unsafe|safe.")
    label_kind: LabelKind = Field(description="What the label judges.")
    side: Side = Field(default="response", description="Which text the label is about: the response or the prompt.")
    annotations: dict[str, Any] = Field(default_factory=dict,
                                        description="The individual human annotations behind the label.")
    metadata: dict[str, Any] = Field(default_factory=dict,
                                     description="Source fields: model, attack method, automated judges' labels, …")

    @model_validator(mode="after")
    def _label_fits_kind(self) -> LabelledResponse:
        allowed = REFUSAL_LABELS if self.label_kind == LabelKind.REFUSAL else HARM_LABELS
        if self.human_label not in allowed:
            raise ValueError(f"label '{self.human_label}' is not a {self.label_kind.value} label "
                             f"({', '.join(allowed)})")
        return self

    @property
    def id(self) -> str:
        return self.sample.id

    @property
    def refusal(self) -> RefusalState | None:
        """The refusal state the humans gave (refusal labels only)."""
        return REFUSAL_LABELS.get(self.human_label) if self.label_kind == LabelKind.REFUSAL else None

    @property
    def verdict(self) -> VerdictLabel | None:
        """unsafe / safe as the humans judged it (harmfulness labels only)."""
        return HARM_LABELS.get(self.human_label) if self.label_kind == LabelKind.HARMFULNESS else None


@runtime_checkable
class LabelledSet(Protocol):
    """Anything that streams labelled responses."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def __iter__(self) -> Iterator[LabelledResponse]: ...

    def validate(self) -> int: ...

    def select(self, *, limit: int | None = None, seed: int = 0,
               per_hazard: int | None = None) -> Iterator[LabelledResponse]: ...


class BaseLabelledSet(BaseCollection[LabelledResponse]):
    """A labelled set; strata are the samples' hazards."""

    def _key(self, item: LabelledResponse) -> str:
        return item.sample.id

    def stratum(self, item: LabelledResponse) -> str:
        return item.sample.hazard
