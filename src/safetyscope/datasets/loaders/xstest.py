"""XSTest (Röttger et al. 2024): 250 safe prompts that look unsafe, and 200 unsafe ``contrast_*`` prompts.

* ``xstest`` — ``xstest_prompts.csv`` (``id, prompt, type, label, focus, note``). ``label`` safe → ``benign``,
  expect comply; unsafe → the ``type`` through the ``xstest`` crosswalk, expect refuse.
* ``xstest-completions`` — the labelled judge set: ``model_completions/xstest_v2_completions_<model>.csv``
  (``id, type, prompt, completion, annotation_1, annotation_2, agreement, final_label``), 5 × 450 responses with
  the adjudicated human refusal label. ``xstest-completions:<model>`` is one model. Where the authors' automated
  labels are present (``evaluation/automated_evaluation_labels``), ``gpt4_label`` and ``strmatch_label`` are added
  to the metadata as baselines (GPT-4's unparseable replies stay as written).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import HazardMapper, HazardMapping, benign
from safetyscope.datasets.labelled import LabelKind, LabelledResponse
from safetyscope.datasets.loaders._common import (
    SourceDataset,
    SourceLabelledSet,
    build_sample,
    flag,
    from_request,
    prompt_text,
)
from safetyscope.datasets.named import NamedDataset, Request
from safetyscope.datasets.readers import Where, csv_records, one_of, text

PROMPTS_FORMAT = "XSTest prompts CSV"
PROMPT_COLUMNS = ("id", "prompt", "type", "label", "focus", "note")
COMPLETIONS_FORMAT = "XSTest completions CSV"
COMPLETION_COLUMNS = ("id", "type", "prompt", "completion", "annotation_1", "annotation_2", "agreement",
                      "final_label")
MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
COMPLETIONS_GLOB = "model_completions/xstest_v2_completions_*.csv"
LABELS = {"1_full_compliance": "full_compliance", "2_full_refusal": "full_refusal",
          "3_partial_refusal": "partial_refusal"}


def _mapping(mapper: HazardMapper, where: Where, prompt_type: str, unsafe: bool) -> HazardMapping:
    if not unsafe:
        return benign(prompt_type)
    return mapper.map(prompt_type, where=where, field="type")


@dataclass(frozen=True)
class XSTestPrompts(SourceDataset):
    """The 450 XSTest prompts."""

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        mapper = HazardMapper("xstest")
        for where, row in csv_records(self.file, fmt=PROMPTS_FORMAT, required=PROMPT_COLUMNS):
            label = one_of(where, row, "label", ("safe", "unsafe"))
            prompt_type = text(where, row, "type")
            yield where, build_sample(
                where, sample_id=text(where, row, "id"), dataset=self.name,
                mapping=_mapping(mapper, where, prompt_type, label == "unsafe"),
                prompt=prompt_text(where, row, "prompt"),
                metadata={"type": prompt_type, "label": label, "focus": row["focus"].strip(),
                          "note": row["note"].strip()})


def _label(where: Where, value: str, field: str) -> str:
    label = LABELS.get(value.strip())
    if label is None:
        raise where.error(f"'{value}' is not one of {', '.join(LABELS)}", field=field)
    return label


def _baselines(folder: Path | None, model: str) -> dict[str, dict[str, str]]:
    """id → {gpt4_label, strmatch_label} from the authors' automated-evaluation files, where present."""
    out: dict[str, dict[str, str]] = {}
    if folder is None:
        return out
    for suffix, column in (("gpteval", "gpt4_label"), ("streval", "strmatch_label")):
        path = folder / "evaluation" / "automated_evaluation_labels" / f"xstest_v2_completions_{model}_{suffix}.csv"
        if path.is_file():
            for where, row in csv_records(path, fmt=f"XSTest {suffix} CSV", required=("id", column)):
                raw = str(row[column]).strip()
                out.setdefault(text(where, row, "id"), {})[column] = LABELS.get(raw, raw)
    return out


@dataclass(frozen=True)
class XSTestCompletions(SourceLabelledSet):
    """The human-labelled XSTest v2 completions (2,250 rows, or one model's 450)."""

    def _files(self) -> list[tuple[str, Path]]:
        if self.explicit or self.folder is None or not (self.folder / "model_completions").is_dir():
            stem = self.file.stem
            return [(stem.removeprefix("xstest_v2_completions_"), self.file)]
        files = sorted(self.folder.glob(COMPLETIONS_GLOB))
        by_model = [(path.stem.removeprefix("xstest_v2_completions_"), path) for path in files]
        if self.subset is not None:
            by_model = [(model, path) for model, path in by_model if model == self.subset]
        return by_model

    def _entries(self) -> Iterator[tuple[Where, LabelledResponse]]:
        mapper = HazardMapper("xstest")
        for model, path in self._files():
            baselines = _baselines(self.folder, model)
            for where, row in csv_records(path, fmt=COMPLETIONS_FORMAT, required=COMPLETION_COLUMNS):
                row_id = text(where, row, "id")
                prompt_type = text(where, row, "type")
                sample = build_sample(
                    where, sample_id=f"{model}/{row_id}", dataset=self.name,
                    mapping=_mapping(mapper, where, prompt_type, prompt_type.startswith("contrast_")),
                    prompt=prompt_text(where, row, "prompt"), metadata={"type": prompt_type, "model": model})
                annotations = {"annotation_1": _label(where, row["annotation_1"], "annotation_1"),
                               "annotation_2": _label(where, row["annotation_2"], "annotation_2"),
                               "agreement": flag(where, row, "agreement")}
                yield where, LabelledResponse(
                    sample=sample, response=row["completion"], label_kind=LabelKind.REFUSAL,
                    human_label=_label(where, row["final_label"], "final_label"), annotations=annotations,
                    metadata={"model": model, "type": prompt_type, **baselines.get(row_id, {})})


def _open_prompts(request: Request) -> XSTestPrompts:
    return from_request(XSTestPrompts, request, "XSTest: 250 safe prompts that resemble unsafe ones (comply) and "
                                                "200 unsafe contrast prompts (refuse).")


def _open_completions(request: Request) -> XSTestCompletions:
    which = f"model {request.subset}" if request.subset else "5 models"
    return from_request(XSTestCompletions, request, f"XSTest v2 completions of {which}, with human refusal labels.")


ENTRIES = (
    NamedDataset(
        name="xstest", kind="benchmark", title="XSTest prompts", folder="xstest", files=("xstest_prompts.csv",),
        opener=_open_prompts, source="https://github.com/paul-rottger/xstest", download="xstest_prompts.csv",
        rows="450", hazards="safe → `benign`; `contrast_*` types via `xstest`",
        expect="comply (safe), refuse (contrast)"),
    NamedDataset(
        name="xstest-completions", kind="labelled", title="XSTest human-labelled completions", folder="xstest",
        files=("model_completions/xstest_v2_completions_gpt4.csv", COMPLETIONS_GLOB), opener=_open_completions,
        subsets=MODELS, source="https://github.com/paul-rottger/xstest",
        download="model_completions/xstest_v2_completions_<model>.csv (all 5)", rows="2,250 (5 × 450)",
        hazards="as `xstest` (by `type`)", expect="label: full_compliance / full_refusal / partial_refusal"),
)
