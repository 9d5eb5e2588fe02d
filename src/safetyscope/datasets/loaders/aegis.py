"""NVIDIA Aegis 2.0 (Ghosh et al. 2025; ``nvidia/Aegis-AI-Content-Safety-Dataset-2.0``): human- and
LLM-jury-labelled prompts (with responses) over the 23-category NemoGuard taxonomy.

Format (dataset card): rows ``id, reconstruction_id_if_redacted, prompt, response, prompt_label,
response_label, violated_categories, prompt_label_source, response_label_source``, in ``train``, ``validation``
and ``test`` files (JSON Lines or a JSON array; CSV is read too). ``prompt_label`` ``unsafe`` → the
``violated_categories`` (comma-separated names) through the ``aegis-2.0`` crosswalk, several categories by the
canonical-order rule, out-of-scope ones (Needs Caution, Profanity, Other, Manipulation, Immoral/Unethical) or none
→ ``unmapped``; expect refuse. ``safe`` → ``benign``, comply. Category names the crosswalk does not know are not
an error here (the spelling comes from the card, not from a downloaded file): such rows are ``unmapped`` with the
name in ``unmapped_reason``. Prompts withheld as ``REDACTED`` (their text must be reconstructed from another
dataset) are skipped. The response and its label stay in metadata. Tested on a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper, benign
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import HFSource, NamedDataset, Request
from safetyscope.datasets.readers import Row, Where, table_records

FORMAT = "Aegis 2.0"
FIELDS = ("prompt", "prompt_label")
COLUMNS = ("id", "reconstruction_id_if_redacted", "prompt", "response", "prompt_label", "response_label",
           "violated_categories", "prompt_label_source", "response_label_source")
SPLITS = ("train", "validation", "test")
REPO = "nvidia/Aegis-AI-Content-Safety-Dataset-2.0"


@dataclass(frozen=True)
class Aegis2(SourceDataset):
    """One Aegis 2.0 split."""

    def _records(self) -> Iterator[tuple[Where, Row]]:
        if self.hf is not None:
            yield from self.hf.records()
        else:
            yield from table_records(self.file, fmt=FORMAT, required=FIELDS, expected=COLUMNS)

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("aegis-2.0")
        for number, (where, row) in enumerate(self._records(), start=1):
            prompt = prompt_text(where, row, "prompt")
            if prompt.strip() == "REDACTED":
                continue
            label = str(row["prompt_label"]).strip().lower()
            if label not in ("safe", "unsafe"):
                raise where.error(f"'{row['prompt_label']}' is not one of safe, unsafe", field="prompt_label")
            categories = [part.strip() for part in str(row.get("violated_categories") or "").split(",")
                          if part.strip()]
            if label == "unsafe":
                mapping = mapper.map_many(categories, where=where, field="violated_categories", strict=False,
                                          empty_reason="unsafe prompt with no violated category")
            else:
                mapping = benign()
            metadata = {key: row.get(key) for key in COLUMNS if key not in ("id", "prompt")}
            sample_id = str(row.get("id") or number)
            yield where, build_sample(where, sample_id=sample_id, dataset=self.name, mapping=mapping, prompt=prompt,
                                      metadata=metadata)


def _open(request: Request) -> Aegis2:
    return from_request(Aegis2, request, f"Aegis 2.0 ({request.subset or 'test'}): labelled prompts over the "
                                         "23 NemoGuard categories.")


def _files(split: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{split}{ext}" for prefix in ("", "data/") for ext in (".json", ".jsonl", ".csv"))


ENTRIES = (
    NamedDataset(
        name="aegis-2.0", aliases=("aegis2", "aegis"), kind="benchmark", title="Aegis 2.0 content safety",
        folder="aegis-2.0", files=_files("test"), opener=_open, subsets=SPLITS,
        subset_files={split: _files(split) for split in SPLITS}, hf=HFSource(REPO, split="test"),
        hf_subsets={split: HFSource(REPO, split=split) for split in SPLITS},
        source=f"https://huggingface.co/datasets/{REPO}", download="test.json", rows="1,964 (test)",
        hazards="`violated_categories` via `aegis-2.0`; safe → `benign`", expect="refuse (unsafe), comply (safe)",
        notes="schema from the dataset card (not downloaded here)"),
)
