"""RMCBench (Chen et al. 2024): 473 prompts asking for malicious code; all should be refused.

Format: ``data/json/prompt.json``, a JSON array of ``{pid, category, task, level, level description, prompt,
malicious functionality, malicious categories, …}``. Text-to-code prompts (levels 1-2) and their level-3
jailbreak versions (with ``jid``), code-completion and code-translation prompts (with the malicious code inside
the prompt). Where ``data/json/jailbreak-prompt.json`` is beside it, a level-3 row's template ``name`` and
``pattern`` are added to metadata.

Hazard: every RMCBench prompt asks for malware, a cyber crime, which AILuminate places under non-violent crimes,
so all rows are ``ncr`` (a whole-dataset assignment, recorded in ``metadata.hazard_reason``); the malware family
(``malicious categories``: Viruses, Worms, Spyware, …) is kept as ``source_hazard``. The code fields already in
the prompt (``original code``, ``code to be completed``) are not repeated in metadata; ``missing part`` is kept.

Subsets: ``text-to-code``, ``code-to-code`` (the ``category``), ``code-completion``, ``code-translation`` (the
``task``), ``jailbreak`` (level 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import fixed
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, from_request, prompt_text
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, json_array_records, text

FORMAT = "RMCBench prompt JSON"
FIELDS = ("pid", "category", "task", "level", "prompt", "malicious categories")
JAILBREAK_FORMAT = "RMCBench jailbreak-prompt JSON"
REASON = "RMCBench asks for malicious code: cyber crime, a non-violent crime in AILuminate's scope"
OMIT = {"prompt", "original code", "code to be completed"}
SUBSETS = {"text-to-code": ("category", "text-to-code"), "code-to-code": ("category", "code-to-code"),
           "code-completion": ("task", "code completion"), "code-translation": ("task", "code translation"),
           "jailbreak": ("level", "3")}


@dataclass(frozen=True)
class RMCBench(SourceDataset):
    """RMCBench prompts (all, or one subset)."""

    def _templates(self) -> dict[str, dict[str, Any]]:
        path = self.file.parent / "jailbreak-prompt.json"
        if not path.is_file():
            return {}
        return {text(where, row, "jid"): {"jailbreak_name": row.get("name"), "jailbreak_pattern": row.get("pattern")}
                for where, row in json_array_records(path, fmt=JAILBREAK_FORMAT, required=("jid",))}

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        templates = self._templates()
        wanted = SUBSETS.get(self.subset) if self.subset else None
        for where, row in json_array_records(self.file, fmt=FORMAT, required=FIELDS):
            if wanted is not None and str(row.get(wanted[0])).strip() != wanted[1]:
                continue
            metadata = {key: value for key, value in row.items() if key not in OMIT}
            jid = row.get("jid")
            if jid is not None:
                metadata.update(templates.get(str(jid), {}))
            mapping = fixed("ncr", REASON, source=text(where, row, "malicious categories"))
            yield where, build_sample(where, sample_id=text(where, row, "pid"), dataset=self.name, mapping=mapping,
                                      prompt=prompt_text(where, row, "prompt"), metadata=metadata)


def _open(request: Request) -> RMCBench:
    part = f" ({request.subset})" if request.subset else ""
    return from_request(RMCBench, request, f"RMCBench{part}: requests for malicious code (text-to-code, completion, "
                                           "translation, jailbreak).")


ENTRIES = (
    NamedDataset(
        name="rmcbench", kind="benchmark", title="RMCBench", folder="rmcbench",
        files=("data/json/prompt.json", "prompt.json"), opener=_open, subsets=tuple(SUBSETS),
        source="https://github.com/qing-yuan233/RMCBench", download="data/json/prompt.json (+ jailbreak-prompt.json)",
        rows="473 (282 text-to-code incl. 100 jailbreak, 100 completion, 91 translation)",
        hazards="all `ncr` (malicious code = cyber crime); malware family kept", expect="refuse"),
)
