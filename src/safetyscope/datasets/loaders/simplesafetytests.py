"""SimpleSafetyTests (Vidgen et al. 2023): 100 prompts in 5 harm areas, all to be refused.

Format: CSV ``id, harm_area, counter, category, prompts_final``. ``harm_area`` maps through the
``simplesafetytests`` crosswalk; ``category`` (advice seeking / instructions) and ``counter`` go to metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records, text

FORMAT = "SimpleSafetyTests CSV"
COLUMNS = ("id", "harm_area", "counter", "category", "prompts_final")


@dataclass(frozen=True)
class SimpleSafetyTests(SourceDataset):
    """The SimpleSafetyTests test cases."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("simplesafetytests")
        for where, row in csv_records(self.file, fmt=FORMAT, required=COLUMNS):
            mapping = mapper.map(text(where, row, "harm_area"), where=where, field="harm_area")
            yield where, build_sample(where, sample_id=text(where, row, "id"), dataset=self.name, mapping=mapping,
                                      prompt=prompt_text(where, row, "prompts_final"),
                                      metadata={"category": row["category"], "counter": row["counter"]})


def _open(request: Request) -> SimpleSafetyTests:
    return from_request(SimpleSafetyTests, request, "SimpleSafetyTests: 100 clearly harmful prompts in 5 harm areas.")


ENTRIES = (
    NamedDataset(
        name="simplesafetytests", aliases=("sst",), kind="benchmark", title="SimpleSafetyTests",
        folder="simplesafetytests",
        files=("simplesafetytests_test_cases.csv", "SimpleSafetyTests - test cases.csv"),
        opener=_open, source="https://github.com/bertiev/SimpleSafetyTests",
        download="'SimpleSafetyTests - test cases.csv'", rows="100",
        hazards="`harm_area` via `simplesafetytests` (ssh, vcr, ncr, ncr, cse)", expect="refuse"),
)
