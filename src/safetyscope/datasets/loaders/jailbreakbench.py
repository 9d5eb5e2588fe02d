"""JailbreakBench (Chao et al. 2024): the JBB-Behaviors, and the published attack artifacts.

* ``jailbreakbench`` — ``behaviors.csv`` (first column the 0-99 index, unnamed on GitHub, ``Index`` on Hugging
  Face; then ``Goal, Target, Behavior, Category, Source``). ``Category`` maps through the ``jailbreakbench``
  crosswalk. ``jailbreakbench:benign`` reads ``benign-behaviors.csv`` (Hugging Face only): benign, comply.
* ``jailbreakbench-artifacts`` — ``artifacts/attack-artifacts/<method>/<attack_type>/<model>.json``: each file's
  ``jailbreaks`` are ready-made jailbreak prompts, one per behaviour. Items whose attack submitted no prompt
  (``prompt: null``) are skipped. Metadata: ``method``, ``attack_type``, ``target_model``, ``jailbroken`` (JBB's
  automated judge, not a human label), ``jailbroken_llama_guard1`` (where present), the goal, behaviour and the
  target's recorded ``response``. Subsets: a method (``PAIR``), or ``method/model`` (``PAIR/vicuna-13b-v1.5``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetyscope.core.errors import DatasetError
from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper, benign
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, flag, from_request, prompt_text
from safetyscope.datasets.named import HFSource, NamedDataset, Request
from safetyscope.datasets.readers import Row, Where, csv_records, json_array_records, load_json, text

BEHAVIORS_FORMAT = "JailbreakBench behaviors CSV"
BEHAVIOR_COLUMNS = ("Goal", "Target", "Behavior", "Category", "Source")
ARTIFACT_FORMAT = "JailbreakBench artifact"
ARTIFACT_FIELDS = ("index", "goal", "behavior", "category", "prompt", "jailbroken")
ARTIFACTS = "artifacts/attack-artifacts"
METHODS = ("DSN", "GCG", "JBC", "PAIR", "prompt_with_random_search")


def _index(where: Where, row: Row, number: int) -> str:
    for column in ("Index", ""):
        value = row.get(column)
        if value not in (None, ""):
            return str(value).strip()
    return str(number)


@dataclass(frozen=True)
class JBBBehaviors(SourceDataset):
    """JBB-Behaviors: 100 harmful (or, as ``:benign``, 100 benign) behaviours; ids are the 0-99 index."""

    def _records(self) -> Iterator[tuple[Where, Row]]:
        if self.hf is not None:
            yield from self.hf.records()
        else:
            yield from csv_records(self.file, fmt=BEHAVIORS_FORMAT, required=BEHAVIOR_COLUMNS)

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("jailbreakbench")
        harmless = self.subset == "benign"
        for number, (where, row) in enumerate(self._records()):
            category = text(where, row, "Category")
            mapping = benign(category) if harmless else mapper.map(category, where=where, field="Category")
            yield where, build_sample(
                where, sample_id=_index(where, row, number), dataset=self.name, mapping=mapping,
                prompt=prompt_text(where, row, "Goal"),
                metadata={"Behavior": row.get("Behavior"), "Target": row.get("Target"), "Source": row.get("Source")})


def artifact_files(root: Path, subset: str | None) -> list[Path]:
    """The per-model artifact files under ``root`` (the ``attack-artifacts`` folder), optionally one subset."""
    files = sorted(path for path in root.glob("*/*/*.json") if path.name != "attack-info.json")
    if subset is None:
        return files
    method, _, model = subset.partition("/")
    chosen = [path for path in files if path.parts[-3] == method and (not model or path.stem == model)]
    if not chosen:
        known = sorted({f"{path.parts[-3]}/{path.stem}" for path in files})
        raise DatasetError(root, f"no artifacts for '{subset}' (known: {', '.join(known)})")
    return chosen


@dataclass(frozen=True)
class JBBArtifacts(SourceDataset):
    """Jailbreak prompts from the JailbreakBench artifacts repository."""

    def _files(self) -> list[Path]:
        if self.explicit:
            return [self.file]
        folder = self.folder if self.folder is not None else self.file.parent
        root = folder / ARTIFACTS if (folder / ARTIFACTS).is_dir() else folder
        return artifact_files(root, self.subset)

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("jailbreakbench")
        for path in self._files():
            data = load_json(path)
            if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict) \
                    or not isinstance(data.get("jailbreaks"), list):
                raise DatasetError(path, f"does not match the {ARTIFACT_FORMAT} format: expected an object with "
                                         "'parameters' and 'jailbreaks'")
            params: dict[str, Any] = data["parameters"]
            method = str(params.get("method") or path.parts[-3])
            attack_type = str(params.get("attack_type") or path.parts[-2])
            model = str(params.get("model") or path.stem)
            for where, item in json_array_records(path, fmt=ARTIFACT_FORMAT, required=ARTIFACT_FIELDS,
                                                  data=data["jailbreaks"]):
                if item.get("prompt") is None:
                    continue
                mapping = mapper.map(text(where, item, "category"), where=where, field="category")
                metadata = {"method": method, "attack_type": attack_type, "target_model": model,
                            "jailbroken": flag(where, item, "jailbroken"), "goal": item.get("goal"),
                            "behavior": item.get("behavior"), "response": item.get("response"),
                            "number_of_queries": item.get("number_of_queries"),
                            "queries_to_jailbreak": item.get("queries_to_jailbreak")}
                if item.get("jailbroken_llama_guard1") is not None:
                    metadata["jailbroken_llama_guard1"] = flag(where, item, "jailbroken_llama_guard1")
                yield where, build_sample(
                    where, sample_id=f"{method}/{attack_type}/{model}/{text(where, item, 'index')}",
                    dataset=self.name, mapping=mapping, prompt=prompt_text(where, item, "prompt"), metadata=metadata)


def _open_behaviors(request: Request) -> JBBBehaviors:
    which = "100 benign" if request.subset == "benign" else "100 harmful"
    return from_request(JBBBehaviors, request, f"JailbreakBench JBB-Behaviors: {which} behaviours in 10 categories.")


def _open_artifacts(request: Request) -> JBBArtifacts:
    part = f" ({request.subset})" if request.subset else ""
    return from_request(JBBArtifacts, request, f"JailbreakBench attack artifacts{part}: ready-made jailbreak prompts "
                                               "with the target model and JBB's jailbroken verdict.")


ENTRIES = (
    NamedDataset(
        name="jailbreakbench", aliases=("jbb",), kind="benchmark", title="JailbreakBench behaviours",
        folder="jailbreakbench", files=("behaviors.csv", "harmful-behaviors.csv", "data/harmful-behaviors.csv"),
        opener=_open_behaviors, subsets=("benign",),
        hf=HFSource("JailbreakBench/JBB-Behaviors", split="harmful", config="behaviors"),
        subset_files={"benign": ("benign-behaviors.csv", "data/benign-behaviors.csv")},
        hf_subsets={"benign": HFSource("JailbreakBench/JBB-Behaviors", split="benign", config="behaviors")},
        source="https://github.com/JailbreakBench/jailbreakbench (now https://huggingface.co/datasets/"
               "JailbreakBench/JBB-Behaviors)", download="behaviors.csv (or harmful-behaviors.csv)",
        rows="100 (+100 benign on HF)", hazards="`Category` via `jailbreakbench`", expect="refuse (benign: comply)"),
    NamedDataset(
        name="jailbreakbench-artifacts", aliases=("jbb-artifacts",), kind="benchmark",
        title="JailbreakBench attack artifacts", folder="jailbreakbench",
        files=(f"{ARTIFACTS}/PAIR/black_box/vicuna-13b-v1.5.json", f"{ARTIFACTS}/*/*/*.json"),
        opener=_open_artifacts, subsets=METHODS, source="https://github.com/JailbreakBench/artifacts",
        download="attack-artifacts/<method>/<attack_type>/<model>.json", rows="1,800 (1,637 with a prompt)",
        hazards="`category` via `jailbreakbench`", expect="refuse"),
)
