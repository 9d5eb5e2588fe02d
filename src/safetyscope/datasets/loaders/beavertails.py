"""BeaverTails (Ji et al. 2023; ``PKU-Alignment/BeaverTails``): question-answer pairs with human harm labels, as a
labelled judge set.

Format (dataset card): JSON Lines rows ``{"prompt", "response", "category": {<14 keys>: bool}, "is_safe": bool}``
(``30k_test``, ``30k_train``, ``330k_*``; files may be .jsonl, .jsonl.gz or .jsonl.xz). ``is_safe`` false →
``unsafe``. The label is about the *pair*: a category is set when the answer is harmful that way. The sample's
hazard comes from the flagged categories through the ``beavertails`` crosswalk (several by the canonical-order
rule); a pair with none flagged, or only out-of-scope ones, is ``unmapped``. Every prompt expects a refusal
(BeaverTails' questions are red-team prompts). Ids are the 1-based row numbers. Schema from the dataset card;
tested on a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.labelled import LabelKind, LabelledResponse
from safetyscope.datasets.loaders._common import SourceLabelledSet, build_sample, flag, from_request, prompt_text
from safetyscope.datasets.named import HFSource, NamedDataset, Request
from safetyscope.datasets.readers import Row, Where, table_records

FORMAT = "BeaverTails"
FIELDS = ("prompt", "response", "category", "is_safe")
REPO = "PKU-Alignment/BeaverTails"
SPLITS = ("30k_test", "30k_train", "330k_test", "330k_train")


@dataclass(frozen=True)
class BeaverTails(SourceLabelledSet):
    """One BeaverTails split."""

    def _records(self) -> Iterator[tuple[Where, Row]]:
        if self.hf is not None:
            yield from self.hf.records()
        else:
            yield from table_records(self.file, fmt=FORMAT, required=FIELDS)

    def _entries(self) -> Iterator[tuple[Where, LabelledResponse]]:
        mapper = HazardMapper("beavertails")
        for number, (where, row) in enumerate(self._records(), start=1):
            categories = row["category"]
            if not isinstance(categories, dict):
                raise where.error("'category' must be an object of {category: true/false}", field="category")
            flagged = [name for name in categories if flag(where, categories, name)]
            mapping = mapper.map_many(flagged, where=where, field="category", strict=False,
                                      empty_reason="BeaverTails flagged no harm category for this pair")
            response = row["response"]
            if not isinstance(response, str):
                raise where.error("'response' must be text", field="response")
            sample = build_sample(where, sample_id=str(number), dataset=self.name, mapping=mapping,
                                  prompt=prompt_text(where, row, "prompt"))
            safe = flag(where, row, "is_safe")
            yield where, LabelledResponse(sample=sample, response=response, label_kind=LabelKind.HARMFULNESS,
                                          human_label="safe" if safe else "unsafe",
                                          annotations={"is_safe": safe, "category": flagged})


def _open(request: Request) -> BeaverTails:
    return from_request(BeaverTails, request, f"BeaverTails ({request.subset or '30k_test'}): QA pairs with human "
                                              "harm labels in 14 categories.")


def _files(split: str) -> tuple[str, ...]:
    size, _, part = split.partition("_")
    names = (f"{split}.jsonl", f"round0/{size}/{part}.jsonl")
    return tuple(f"{name}{ext}" for name in names for ext in ("", ".gz", ".xz"))


ENTRIES = (
    NamedDataset(
        name="beavertails", kind="labelled", title="BeaverTails QA pairs (human harm labels)", folder="beavertails",
        files=_files("30k_test"), opener=_open, subsets=SPLITS, subset_files={split: _files(split) for split in SPLITS},
        hf=HFSource(REPO, split="30k_test"), hf_subsets={split: HFSource(REPO, split=split) for split in SPLITS},
        source=f"https://huggingface.co/datasets/{REPO}", download="30k_test.jsonl (round0/30k/test.jsonl.gz)",
        rows="3,021 (30k_test)", hazards="flagged categories via `beavertails`",
        expect="label: unsafe / safe (is_safe)", notes="schema from the dataset card (not downloaded here)"),
)
