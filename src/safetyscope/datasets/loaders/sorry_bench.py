"""SORRY-Bench (Xie et al., ICLR 2025): 440 unsafe instructions in 44 categories, and 20 linguistic mutations.

Format (Hugging Face ``sorry-bench/sorry-bench-202503``, gated; FastChat question files): JSON Lines rows
``{"question_id": 1, "category": "1", "turns": ["…"], "prompt_style": "base"}``, the base set in
``question.jsonl`` and each mutation in ``question_<style>.jsonl``. ``category`` (1-44) maps through the
``sorry-bench`` crosswalk (``sorry-bench-2406``: the first release's 45 categories, 450 prompts); the eight
categories that crosswalk leaves out of scope (personal insults, fake news, military use, belief promotion, …)
are ``unmapped`` and still expect a refusal, as SORRY-Bench does. ``turns`` holds one user turn. Translated
styles (``translate-fr`` …) set the language. The schema is from the dataset card and copies of it (see
shared/reference/guard-formats.md §5.1), not from a downloaded file: it is tested on a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request
from safetyscope.datasets.named import HFSource, NamedDataset, Opener, Request
from safetyscope.datasets.readers import Row, Where, jsonl_records, text

FORMAT = "SORRY-Bench question JSONL"
FIELDS = ("question_id", "category", "turns")
STYLES = ("slang", "uncommon_dialects", "technical_terms", "role_play", "misspellings", "logical_appeal",
          "authority_endorsement", "misrepresentation", "evidence-based_persuasion", "expert_endorsement", "ascii",
          "caesar", "morse", "atbash", "translate-ml", "translate-ta", "translate-mr", "translate-zh-cn",
          "translate-fr")
LANGUAGES = {"translate-ml": "ml", "translate-ta": "ta", "translate-mr": "mr", "translate-zh-cn": "zh-CN",
             "translate-fr": "fr"}


def _turn(where: Where, row: Row) -> str:
    turns = row["turns"]
    if isinstance(turns, str):
        turns = [turns]
    if not isinstance(turns, list) or len(turns) != 1 or not isinstance(turns[0], str) or not turns[0].strip():
        raise where.error("'turns' must be a list holding one non-empty user turn", field="turns")
    return turns[0]


@dataclass(frozen=True)
class SorryBench(SourceDataset):
    """One SORRY-Bench question file (base or a mutation)."""

    taxonomy: str = "sorry-bench"

    def _records(self) -> Iterator[tuple[Where, Row]]:
        if self.hf is not None:
            yield from self.hf.records()
        else:
            yield from jsonl_records(self.file, fmt=FORMAT, required=FIELDS)

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper(self.taxonomy)
        for where, row in self._records():
            style = str(row.get("prompt_style") or "base")
            mapping = mapper.map(text(where, row, "category"), where=where, field="category")
            question = text(where, row, "question_id")
            yield where, build_sample(where, sample_id=question if style == "base" else f"{question}-{style}",
                                      dataset=self.name, mapping=mapping, prompt=_turn(where, row),
                                      language=LANGUAGES.get(style, "en"), metadata={"prompt_style": style})


@dataclass(frozen=True)
class SorryBench2406(SorryBench):
    """The first release (45 categories)."""

    taxonomy: str = "sorry-bench-2406"


def _open(request: Request) -> SorryBench:
    return from_request(SorryBench, request, f"SORRY-Bench 2025-03 ({request.subset or 'base'}): 440 unsafe "
                                             "instructions in 44 categories.")


def _open_2406(request: Request) -> SorryBench:
    return from_request(SorryBench2406, request, f"SORRY-Bench 2024-06 ({request.subset or 'base'}): 450 unsafe "
                                                 "instructions in 45 categories.")


def _entry(name: str, repo: str, opener: Opener, rows: str, taxonomy: str) -> NamedDataset:
    return NamedDataset(
        name=name, kind="benchmark", title=f"SORRY-Bench ({repo.rsplit('-', 1)[-1]})", folder=name,
        files=("question.jsonl", "data/question.jsonl"), opener=opener,
        subsets=STYLES, subset_files={style: (f"question_{style}.jsonl", f"data/question_{style}.jsonl")
                                      for style in STYLES},
        hf=HFSource(repo, split="train", data_files="question.jsonl"),
        hf_subsets={style: HFSource(repo, split="train", data_files=f"question_{style}.jsonl") for style in STYLES},
        source=f"https://huggingface.co/datasets/{repo} (gated)", download="question.jsonl", rows=rows,
        hazards=f"`category` via `{taxonomy}` (8 out-of-scope categories → `unmapped`)", expect="refuse",
        notes="schema from the dataset card (not downloaded here)")


ENTRIES = (
    _entry("sorry-bench", "sorry-bench/sorry-bench-202503", _open, "440 per style", "sorry-bench"),
    _entry("sorry-bench-2406", "sorry-bench/sorry-bench-202406", _open_2406, "450 per style", "sorry-bench-2406"),
)
