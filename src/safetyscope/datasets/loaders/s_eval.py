"""S-Eval (Yuan et al. 2025): base-risk and attack prompts, English and Chinese, read straight from the zips.

Each zip holds one JSON Lines member (named like the zip minus ``.zip``; the ``__MACOSX`` entry is ignored),
streamed without extracting. Rows: ``traceid, risk_type, prompt, ext`` where ``ext`` is a JSON object encoded as
a string (``{"model": "base_risk", "from_traceid": …}`` or ``{"model": "attack", "category": <attack>}``); its
fields go to metadata. ``risk_type`` maps through the ``s-eval`` crosswalk (``Ethics_and_Morality`` is out of scope
there, so those rows are ``unmapped``). Every prompt expects a refusal, but S-Eval mixes in deliberately low-risk
prompts and judges responses, not refusals: read its refusal-based rates with that in mind.

The largest set present is used (full, then large, medium, small); an extracted ``.jsonl`` works too. The attack
sets take one of S-Eval's ten attack categories as subset (``s-eval-attack:reverse_induction``): that is how to
run S-Eval's own LLM-written attacks (reverse induction, compositional instructions, in-context attack), which
safetyscope does not reproduce as transformations (docs/attacks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, jsonl_records, text

FORMAT = "S-Eval JSONL"
FIELDS = ("traceid", "risk_type", "prompt", "ext")
SIZES = ("full", "large", "medium", "small")
ATTACK_CATEGORIES = ("positive_induction", "reverse_induction", "code_injection", "instruction_jailbreak",
                     "goal_hijacking", "instruction_encryption", "deepinception", "in_context_attack",
                     "chain_of_utterances", "compositional_instructions")
"""The ``category`` of S-Eval's attack rows (1,000 each in the small English set)."""


@dataclass(frozen=True)
class SEval(SourceDataset):
    """One S-Eval set (a .jsonl.zip or .jsonl file); the language (en / zh) is read from the file name."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("s-eval")
        language = "zh" if "_zh_" in self.file.name else "en"
        for where, row in jsonl_records(self.file, fmt=FORMAT, required=FIELDS):
            ext = row["ext"]
            if isinstance(ext, str):
                try:
                    ext = orjson.loads(ext) if ext.strip() else {}
                except orjson.JSONDecodeError as exc:
                    raise where.error(f"'ext' is not a JSON object encoded as a string: {exc}", field="ext") from None
            if not isinstance(ext, dict):
                raise where.error("'ext' must be a JSON object (encoded as a string)", field="ext")
            if self.subset is not None and ext.get("category") != self.subset:
                continue
            mapping = mapper.map(text(where, row, "risk_type"), where=where, field="risk_type")
            yield where, build_sample(where, sample_id=text(where, row, "traceid"), dataset=self.name,
                                      mapping=mapping, prompt=prompt_text(where, row, "prompt"),
                                      language=language, metadata=ext)


def _candidates(kind: str, language: str) -> tuple[str, ...]:
    stems = [f"s_eval/{size}/S-Eval_{kind}_{language}_{size}.jsonl" for size in SIZES]
    return (*(f"{stem}.zip" for stem in stems), *stems,
            *(f"S-Eval_{kind}_{language}_{size}.jsonl{ext}" for size in SIZES for ext in (".zip", "")))


def _open(request: Request) -> SEval:
    return from_request(SEval, request, "S-Eval: prompts over 8 risk dimensions (a mix of high- and low-risk).")


def _entry(name: str, kind: str, language: str, what: str, rows: str) -> NamedDataset:
    return NamedDataset(
        name=name, kind="benchmark", title=f"S-Eval {what} ({language})", folder="s-eval",
        files=_candidates(kind, language), opener=_open, subsets=ATTACK_CATEGORIES if kind == "attack" else (),
        source="https://github.com/IS2Lab/S-Eval", download=f"s_eval/<size>/S-Eval_{kind}_{language}_<size>.jsonl.zip",
        rows=rows, hazards="`risk_type` via `s-eval` (Ethics_and_Morality → `unmapped`)", expect="refuse",
        notes="CC BY-NC-SA 4.0, research use only")


ENTRIES = (
    _entry("s-eval", "base_risk", "en", "base risk", "10,000 (full)"),
    _entry("s-eval-zh", "base_risk", "zh", "base risk", "10,000 (full)"),
    _entry("s-eval-attack", "attack", "en", "attack", "10,000 (small)"),
    _entry("s-eval-attack-zh", "attack", "zh", "attack", "not in shared/datasets"),
)
