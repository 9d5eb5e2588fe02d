"""AdvBench harmful behaviours (Zou et al. 2023): 520 harmful instructions with an affirmative target prefix.

Format: CSV ``goal, target``. AdvBench has no categories, so every row is ``unmapped`` (the fallback in
``datasets/hazards.py``) and expects a refusal; ``target`` goes to metadata. ``harmful_strings.csv`` holds
outputs, not prompts, and is not loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import unmapped
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records

FORMAT = "AdvBench harmful_behaviors CSV"
COLUMNS = ("goal", "target")
NO_CATEGORY = unmapped("AdvBench gives no category for its behaviours")


@dataclass(frozen=True)
class AdvBench(SourceDataset):
    """AdvBench ``harmful_behaviors.csv``; ids are the 1-based row numbers."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        for number, (where, row) in enumerate(csv_records(self.file, fmt=FORMAT, required=COLUMNS), start=1):
            yield where, build_sample(where, sample_id=str(number), dataset=self.name, mapping=NO_CATEGORY,
                                      prompt=prompt_text(where, row, "goal"), metadata={"target": row["target"]})


def _open(request: Request) -> AdvBench:
    return from_request(AdvBench, request, "AdvBench: 520 harmful behaviours (no categories).")


ENTRIES = (
    NamedDataset(
        name="advbench", kind="benchmark", title="AdvBench harmful behaviours", folder="advbench",
        files=("data/advbench/harmful_behaviors.csv", "harmful_behaviors.csv"), opener=_open,
        source="https://github.com/llm-attacks/llm-attacks (data/advbench)", download="harmful_behaviors.csv",
        rows="520", hazards="none in the source: all `unmapped`", expect="refuse"),
)
