"""HarmBench (Mazeika et al. 2024): text behaviours, and the human-labelled classifier validation set.

* ``harmbench`` — ``harmbench_behaviors_text_all.csv`` (``Behavior, FunctionalCategory, SemanticCategory, Tags,
  ContextString, BehaviorID``), 400 behaviours. ``SemanticCategory`` maps through the ``harmbench`` crosswalk.
  A contextual behaviour is sent as HarmBench's direct request sends it: ``ContextString``, a blank line, ``---``,
  a blank line, then ``Behavior``; both also stay in the metadata for judges that need them apart.
  Subsets: ``standard``, ``contextual``, ``copyright`` (functional categories) and ``test`` / ``val`` (the
  official 320 / 80 split files).
* ``harmbench-val`` — ``text_behaviors_val_set.json``: 602 completions with three human labels (1 = the completion
  exhibits the behaviour). The label is the majority: ``unsafe`` when at least 2 of 3 say 1. The prompt is the
  ``test_case`` actually sent; the behaviour, its context and categories come from the behaviours CSV when it is
  beside the file (3 of the 301 behaviours are not in it: their rows are ``unmapped``). The behaviour (the
  original request) and its context also go in the sample's metadata (``Behavior``, ``ContextString``), as the
  ``harmbench`` loader puts them, so a judge can tell the request from the adversarial test case. The 11
  automated classifiers' verdicts are kept in ``metadata.classifiers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetyscope.core.errors import DatasetError
from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper, HazardMapping, unmapped
from safetyscope.datasets.labelled import LabelKind, LabelledResponse
from safetyscope.datasets.loaders._common import (
    SourceDataset,
    SourceLabelledSet,
    build_sample,
    from_request,
    prompt_text,
)
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Row, Where, csv_records, load_json, one_of, require, text

BEHAVIORS_FORMAT = "HarmBench behaviours CSV"
BEHAVIOR_COLUMNS = ("Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID")
BEHAVIOR_DIR = "data/behavior_datasets"
ALL_FILE = f"{BEHAVIOR_DIR}/harmbench_behaviors_text_all.csv"
FUNCTIONAL = ("standard", "contextual", "copyright")
VAL_FORMAT = "HarmBench classifier val set"
VAL_FILE = "data/classifier_val_sets/text_behaviors_val_set.json"
VAL_FIELDS = ("test_case", "generation", "behavior_id", "human_0", "human_1", "human_2")
HUMANS = ("human_0", "human_1", "human_2")


def harmbench_prompt(behavior: str, context: str) -> str:
    """What HarmBench's direct request sends for a behaviour (with its context, if any)."""
    return f"{context}\n\n---\n\n{behavior}" if context.strip() else behavior


@dataclass(frozen=True)
class HarmBenchBehaviors(SourceDataset):
    """HarmBench text behaviours (all, one split file, or one functional category)."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("harmbench")
        only = self.subset if self.subset in FUNCTIONAL else None
        for where, row in csv_records(self.file, fmt=BEHAVIORS_FORMAT, required=BEHAVIOR_COLUMNS):
            functional = one_of(where, row, "FunctionalCategory", FUNCTIONAL)
            if only is not None and functional != only:
                continue
            behavior = prompt_text(where, row, "Behavior")
            context = row["ContextString"] or ""
            mapping = mapper.map(text(where, row, "SemanticCategory"), where=where, field="SemanticCategory")
            metadata: dict[str, Any] = {"FunctionalCategory": functional, "Tags": row["Tags"]}
            if context.strip():
                metadata.update({"Behavior": behavior, "ContextString": context})
            yield where, build_sample(where, sample_id=text(where, row, "BehaviorID"), dataset=self.name,
                                      mapping=mapping, prompt=harmbench_prompt(behavior, context), metadata=metadata)


def _behaviors_beside(folder: Path | None, val_file: Path) -> Path | None:
    """The all-behaviours CSV next to a val-set file, where the HarmBench layout puts it."""
    candidates = [val_file.parent.parent / "behavior_datasets" / "harmbench_behaviors_text_all.csv",
                  val_file.parent / "harmbench_behaviors_text_all.csv"]
    if folder is not None:
        candidates.insert(0, folder / ALL_FILE)
    return next((path for path in candidates if path.is_file()), None)


def _behavior_index(path: Path | None) -> dict[str, Row]:
    if path is None:
        return {}
    return {text(where, row, "BehaviorID"): row
            for where, row in csv_records(path, fmt=BEHAVIORS_FORMAT, required=BEHAVIOR_COLUMNS)}


def _human(where: Where, example: Row, field: str) -> int:
    value = example.get(field)
    if value in (0, 1, "0", "1"):
        return int(value)
    raise where.error(f"'{value}' is not 0 or 1", field=field)


@dataclass(frozen=True)
class HarmBenchVal(SourceLabelledSet):
    """HarmBench's human-labelled classifier validation set (602 completions)."""

    def _entries(self) -> Iterator[tuple[Where, LabelledResponse]]:
        mapper = HazardMapper("harmbench")
        data = load_json(self.file)
        if not isinstance(data, dict):
            raise DatasetError(self.file, f"does not match the {VAL_FORMAT} format: expected a JSON object "
                                          f"{{BehaviorID: [examples]}}, got {type(data).__name__}")
        beside = _behaviors_beside(self.folder, self.file)
        behaviors = _behavior_index(beside)
        missing = ("behaviour not in harmbench_behaviors_text_all.csv" if beside is not None
                   else "harmbench_behaviors_text_all.csv not found beside the val set")
        record = 0
        for behavior_id, examples in data.items():
            if not isinstance(examples, list):
                raise Where(self.file, record=record).error(f"'{behavior_id}' must map to a list of examples")
            behavior = behaviors.get(behavior_id)
            for index, example in enumerate(examples):
                where = Where(self.file, record=record)
                record += 1
                if not isinstance(example, dict):
                    raise where.error(f"expected a JSON object, got {type(example).__name__}")
                require(where, example, VAL_FIELDS, VAL_FORMAT)
                yield where, self._item(where, mapper, behavior_id, index, example, behavior, missing)

    def _item(self, where: Where, mapper: HazardMapper, behavior_id: str, index: int, example: Row,
              behavior: Row | None, missing: str) -> LabelledResponse:
        mapping: HazardMapping
        metadata: dict[str, Any] = {"behavior_id": behavior_id}
        request: dict[str, str] = {}
        if behavior is None:
            mapping = unmapped(missing)
        else:
            mapping = mapper.map(behavior["SemanticCategory"], where=where, field="SemanticCategory")
            request = {"Behavior": behavior["Behavior"]}
            if (behavior["ContextString"] or "").strip():
                request["ContextString"] = behavior["ContextString"]
            metadata.update({**request, "FunctionalCategory": behavior["FunctionalCategory"]})
        for key in ("model", "method", "experiment"):
            if key in example:
                metadata[key] = example[key]
        skip = {*VAL_FIELDS, "model", "method", "experiment"}
        metadata["classifiers"] = {key: value for key, value in example.items() if key not in skip}
        votes = {field: _human(where, example, field) for field in HUMANS}
        sample = build_sample(where, sample_id=f"{behavior_id}/{index}", dataset=self.name, mapping=mapping,
                              prompt=prompt_text(where, example, "test_case"), metadata=request)
        generation = example["generation"]
        if not isinstance(generation, str):
            raise where.error("'generation' must be text", field="generation")
        return LabelledResponse(sample=sample, response=generation, label_kind=LabelKind.HARMFULNESS,
                                human_label="unsafe" if sum(votes.values()) >= 2 else "safe",
                                annotations=votes, metadata=metadata)


def _open_behaviors(request: Request) -> HarmBenchBehaviors:
    part = f" ({request.subset})" if request.subset else ""
    return from_request(HarmBenchBehaviors, request, f"HarmBench text behaviours{part}: standard, contextual "
                                                     "(context in the message) and copyright.")


def _open_val(request: Request) -> HarmBenchVal:
    return from_request(HarmBenchVal, request, "HarmBench classifier val set: 602 completions, human harm labels "
                                               "(majority of 3).")


ENTRIES = (
    NamedDataset(
        name="harmbench", kind="benchmark", title="HarmBench text behaviours", folder="harmbench",
        files=(ALL_FILE, "harmbench_behaviors_text_all.csv"), opener=_open_behaviors,
        subsets=(*FUNCTIONAL, "test", "val"),
        subset_files={"test": (f"{BEHAVIOR_DIR}/harmbench_behaviors_text_test.csv",
                               "harmbench_behaviors_text_test.csv"),
                      "val": (f"{BEHAVIOR_DIR}/harmbench_behaviors_text_val.csv", "harmbench_behaviors_text_val.csv")},
        source="https://github.com/centerforaisafety/HarmBench", download="harmbench_behaviors_text_all.csv",
        rows="400 (200 standard, 100 contextual, 100 copyright)", hazards="`SemanticCategory` via `harmbench`",
        expect="refuse"),
    NamedDataset(
        name="harmbench-val", kind="labelled", title="HarmBench classifier val set (human labels)",
        folder="harmbench", files=(VAL_FILE, "text_behaviors_val_set.json"), opener=_open_val,
        source="https://github.com/centerforaisafety/HarmBench",
        download="data/classifier_val_sets/text_behaviors_val_set.json (and the behaviours CSV)", rows="602",
        hazards="the behaviour's `SemanticCategory` via `harmbench`", expect="label: unsafe / safe (majority of 3)"),
)
