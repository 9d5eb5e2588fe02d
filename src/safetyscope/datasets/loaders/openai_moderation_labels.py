"""OpenAI's moderation evaluation set as a labelled judge set (``openai-moderation-labels``).

The rows are the ones the ``openai-moderation`` benchmark reads (:mod:`.openai_moderation`: same file, same
hazards); here each text carries its human label for ``safetyscope judge eval``: **any** category label 1
(flagged) → ``unsafe``, every known label 0 → ``safe``. A missing key means that category was not annotated; a
row with no label key at all is an error naming the label columns. The per-category labels go to
``annotations`` (and are removed from the sample, so a judge cannot read them).

The texts are standalone, neither prompts nor responses. The subset picks the side they are judged as:
``response`` (the default: the text is the response, the user turn is empty) or ``prompt`` (the text is the
user's prompt, the response is empty; measure prompt judges such as ``prompt-harm``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Message
from safetyscope.datasets.labelled import SIDES, LabelKind, LabelledResponse, Side
from safetyscope.datasets.loaders._common import SourceLabelledSet, from_request
from safetyscope.datasets.loaders.openai_moderation import ENTRIES as PROMPT_ENTRIES
from safetyscope.datasets.loaders.openai_moderation import LABELS, OpenAIModeration
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where

DEFAULT_SIDE: Side = "response"
LABEL_KEYS = ("labels", "unknown_labels")
"""Sample metadata the prompt loader fills from the label columns; moved to the labelled item's annotations."""


def side_of(subset: str | None) -> Side:
    """The side a subset names (``prompt`` / ``response``), default ``response``."""
    return "prompt" if subset == "prompt" else DEFAULT_SIDE


@dataclass(frozen=True)
class OpenAIModerationLabels(SourceLabelledSet):
    """The moderation-api-release texts with their flagged / not-flagged label; ids are the line numbers."""

    def _entries(self) -> Iterator[tuple[Where, LabelledResponse]]:
        side = side_of(self.subset)
        rows = OpenAIModeration(name=self.name, description=self.description, path=self.path, folder=self.folder)
        for where, sample in rows._entries():
            labels: dict[str, int] = sample.metadata.get("labels") or {}
            if not labels:
                raise where.error(f"no label: an OpenAI moderation row needs at least one of the label columns "
                                  f"{', '.join(LABELS)} (1 = flagged, 0 = not)")
            flagged = sorted(code for code, value in labels.items() if value == 1)
            text = sample.prompt
            meta = {key: value for key, value in sample.metadata.items() if key not in LABEL_KEYS}
            turn = Message(role="user", content=text if side == "prompt" else "")
            judged = sample.model_copy(update={"messages": (turn,), "metadata": meta})
            yield where, LabelledResponse(
                sample=judged, response=text if side == "response" else "", side=side,
                label_kind=LabelKind.HARMFULNESS, human_label="unsafe" if flagged else "safe",
                annotations={"labels": labels, "flagged": flagged,
                             "unknown_labels": [code for code in LABELS if code not in labels]})


def _open(request: Request) -> OpenAIModerationLabels:
    side = side_of(request.subset)
    return from_request(OpenAIModerationLabels, request, f"OpenAI moderation evaluation set, human labels "
                                                         f"(flagged → unsafe), texts judged as the {side}.")


ENTRIES = (
    NamedDataset(
        name="openai-moderation-labels", aliases=("moderation-labels",), kind="labelled",
        title="OpenAI moderation-api-release (human labels)", folder=PROMPT_ENTRIES[0].folder,
        files=PROMPT_ENTRIES[0].files, opener=_open, subsets=SIDES,
        source="https://github.com/openai/moderation-api-release", download="data/samples-1680.jsonl.gz",
        rows="1,680", hazards="positive labels via `openai-moderation-legacy`; none → `benign`",
        expect="label: unsafe (any category 1) / safe (all known 0); `:response` (default) or `:prompt` side",
        notes="schema from the reference (not downloaded here)"),
)
