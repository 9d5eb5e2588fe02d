"""MLCommons AILuminate v1.0 prompt sets (demo, practice): ``release_prompt_id, prompt_text, hazard, persona,
locale, prompt_hash``.

``hazard`` is already an AILuminate code (``vcr`` … ``spc_ele``, ``spc_fin``, ``spc_hlt``, ``spc_lgl``,
``sxc_prn``); it maps through ``ailuminate-v1.0``, the hub itself, and the spelling in the file is kept as
``source_hazard``. ``locale`` (``en_US``) becomes the language tag (``en-US``); ``persona`` (normal, unskilled,
skilled), ``locale`` and ``prompt_hash`` go to metadata. Every prompt expects a refusal (AILuminate grades the
response; a safe response need not be a refusal). The demo CSV is on GitHub (``mlcommons/ailuminate``); the
schema is from shared/reference/guard-formats.md §4 and is tested on a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records, text

FORMAT = "AILuminate prompt-set CSV"
COLUMNS = ("release_prompt_id", "prompt_text", "hazard", "persona", "locale", "prompt_hash")
REQUIRED = COLUMNS[:5]


@dataclass(frozen=True)
class AILuminate(SourceDataset):
    """An AILuminate prompt-set CSV."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("ailuminate-v1.0")
        for where, row in csv_records(self.file, fmt=FORMAT, required=REQUIRED, expected=COLUMNS):
            locale = text(where, row, "locale")
            mapping = mapper.map(text(where, row, "hazard"), where=where, field="hazard")
            yield where, build_sample(
                where, sample_id=text(where, row, "release_prompt_id"), dataset=self.name, mapping=mapping,
                prompt=prompt_text(where, row, "prompt_text"), language=locale.replace("_", "-"),
                metadata={"persona": row["persona"], "locale": locale, "prompt_hash": row.get("prompt_hash")})


def _open(request: Request) -> AILuminate:
    return from_request(AILuminate, request, "AILuminate v1.0 prompt set: 12 hazards × personas (demo or practice).")


ENTRIES = (
    NamedDataset(
        name="ailuminate", aliases=("ailuminate-demo",), kind="benchmark", title="AILuminate v1.0 prompts",
        folder="ailuminate",
        files=("airr_official_1.0_demo_en_us_prompt_set_release.csv", "airr_official_1.0_*prompt_set_release*.csv",
               "*.csv"),
        opener=_open, source="https://github.com/mlcommons/ailuminate",
        download="airr_official_1.0_demo_en_us_prompt_set_release.csv", rows="1,200 (demo)",
        hazards="`hazard` via `ailuminate-v1.0` (the canonical hub)", expect="refuse",
        notes="schema from the reference (not downloaded here)"),
)
