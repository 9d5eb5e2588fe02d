"""OpenAI's moderation evaluation set (``openai/moderation-api-release``, Markov et al. 2023): 1,680 texts with
binary labels in 8 categories.

Format: ``data/samples-1680.jsonl.gz`` (gzip-compressed JSON Lines; plain .jsonl works too), rows
``{"prompt": …, "S": 0|1, "H", "V", "HR", "SH", "S3", "H2", "V2"}``; a **missing** key means that label is unknown.
A row with any label 1 is unsafe: the positive codes map through ``openai-moderation-legacy`` (several by the
canonical-order rule, e.g. S + S3 → ``cse``), expect refuse. A row with no positive label is ``benign`` (comply);
the labels, and which were unknown, go to metadata. Schema from shared/reference/guard-formats.md §3.5; tested on
a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper, benign
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, flag, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, jsonl_records

FORMAT = "OpenAI moderation-api-release JSONL"
LABELS = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")


@dataclass(frozen=True)
class OpenAIModeration(SourceDataset):
    """The moderation-api-release samples; ids are the 1-based line numbers."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("openai-moderation-legacy")
        for number, (where, row) in enumerate(jsonl_records(self.file, fmt=FORMAT, required=("prompt",),
                                                            expected=("prompt", *LABELS)), start=1):
            labels = {code: int(flag(where, row, code)) for code in LABELS if row.get(code) is not None}
            positive = [code for code in LABELS if labels.get(code) == 1]
            mapping = mapper.map_many(positive, where=where, field="labels") if positive else benign()
            unknown = [code for code in LABELS if code not in labels]
            yield where, build_sample(where, sample_id=str(number), dataset=self.name, mapping=mapping,
                                      prompt=prompt_text(where, row, "prompt"),
                                      metadata={"labels": labels, "unknown_labels": unknown or None})


def _open(request: Request) -> OpenAIModeration:
    return from_request(OpenAIModeration, request, "OpenAI moderation evaluation set: 1,680 texts, 8 binary labels.")


ENTRIES = (
    NamedDataset(
        name="openai-moderation", aliases=("moderation-api-release",), kind="benchmark",
        title="OpenAI moderation-api-release", folder="openai-moderation",
        files=("data/samples-1680.jsonl.gz", "samples-1680.jsonl.gz", "samples-1680.jsonl", "*.jsonl.gz", "*.jsonl"),
        opener=_open, source="https://github.com/openai/moderation-api-release",
        download="data/samples-1680.jsonl.gz", rows="1,680",
        hazards="positive labels via `openai-moderation-legacy`; none → `benign`",
        expect="refuse (any label), comply (none)", notes="schema from the reference (not downloaded here)"),
)
