"""StrongREJECT (Souly et al. 2024): 313 forbidden prompts in 6 categories.

Format: CSV ``category, source, forbidden_prompt``; ``category`` maps through the ``strongreject`` crosswalk.
Ids are the 1-based row numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records, text

FORMAT = "StrongREJECT CSV"
COLUMNS = ("category", "source", "forbidden_prompt")


@dataclass(frozen=True)
class StrongReject(SourceDataset):
    """``strongreject_dataset.csv`` (also the small ``strongreject_small_dataset.csv``)."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("strongreject")
        for number, (where, row) in enumerate(csv_records(self.file, fmt=FORMAT, required=COLUMNS), start=1):
            mapping = mapper.map(text(where, row, "category"), where=where, field="category")
            yield where, build_sample(where, sample_id=str(number), dataset=self.name, mapping=mapping,
                                      prompt=prompt_text(where, row, "forbidden_prompt"),
                                      metadata={"source": row["source"]})


def _open(request: Request) -> StrongReject:
    return from_request(StrongReject, request, "StrongREJECT: 313 forbidden prompts in 6 categories.")


ENTRIES = (
    NamedDataset(
        name="strongreject", aliases=("strong-reject",), kind="benchmark", title="StrongREJECT",
        folder="strongreject", files=("strongreject_dataset.csv", "strongreject_dataset/strongreject_dataset.csv"),
        opener=_open, source="https://github.com/alexandrasouly/strongreject", download="strongreject_dataset.csv",
        rows="313", hazards="`category` via `strongreject`", expect="refuse"),
)
