"""Aegis 2.0 as a labelled judge set (``aegis-2.0-labels``): human / LLM-jury safe-unsafe labels of prompts and
of responses.

The rows and hazards are the ones the ``aegis-2.0`` benchmark reads (:mod:`.aegis`: same files, same checks,
``REDACTED`` prompts skipped). The subset picks the side, optionally with the split after a slash
(``response``, ``prompt/train``, …; default ``response`` on ``test``):

* ``response``: the label is ``response_label``, the response is ``response``. Rows without a response label
  (prompt-only rows) are skipped; a file where no row has one is an error naming the column, and a row with a
  response label but no response is an error naming ``response``.
* ``prompt``: the label is ``prompt_label``; the response (empty when the row has none) is kept for judges
  that read both.

Who labelled (``prompt_label_source`` / ``response_label_source``: ``human`` or ``llm_jury``) goes to
``annotations``; both labels (and the response) are removed from the sample's metadata so a judge cannot read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.errors import DatasetError
from safetyscope.datasets.labelled import HARM_LABELS, SIDES, LabelKind, LabelledResponse, Side
from safetyscope.datasets.loaders._common import SourceLabelledSet, from_request
from safetyscope.datasets.loaders.aegis import ENTRIES as PROMPT_ENTRIES
from safetyscope.datasets.loaders.aegis import REPO, SPLITS, Aegis2
from safetyscope.datasets.named import HFSource, NamedDataset, Request
from safetyscope.datasets.readers import Where

DEFAULT_SIDE: Side = "response"
DEFAULT_SPLIT = "test"
LABEL_KEYS = ("prompt_label", "response_label", "prompt_label_source", "response_label_source")
HIDDEN = (*LABEL_KEYS, "response")
"""Sample metadata not passed on: the labels (a judge must not read them) and the response (it is the item's)."""
SUBSETS = (*SIDES, *(f"{side}/{split}" for side in SIDES for split in SPLITS))


def parse_subset(subset: str | None) -> tuple[Side, str]:
    """(side, split) of ``SIDE[/SPLIT]``."""
    side, _, split = (subset or DEFAULT_SIDE).partition("/")
    return ("prompt" if side == "prompt" else "response"), (split or DEFAULT_SPLIT)


@dataclass(frozen=True)
class Aegis2Labels(SourceLabelledSet):
    """One side of one Aegis 2.0 split, as labelled items."""

    def _entries(self) -> Iterator[tuple[Where, LabelledResponse]]:
        side, split = parse_subset(self.subset)
        rows = Aegis2(name=self.name, description=self.description, path=self.path, folder=self.folder,
                      subset=split, hf=self.hf, explicit=self.explicit)
        field = f"{side}_label"
        labelled = 0
        for where, sample in rows._entries():
            meta = sample.metadata
            raw = meta.get(field)
            if raw is None:
                continue  # a prompt-only row has no response label (the prompt label is always there)
            label = str(raw).strip().lower()
            if label not in HARM_LABELS:
                raise where.error(f"'{raw}' is not one of safe, unsafe", field=field)
            response = meta.get("response")
            if response is not None and not isinstance(response, str):
                raise where.error("'response' must be text", field="response")
            if side == "response" and not (response or "").strip():
                raise where.error("the row has a response_label but no response", field="response")
            labelled += 1
            judged = sample.model_copy(update={"metadata": {k: v for k, v in meta.items() if k not in HIDDEN}})
            yield where, LabelledResponse(
                sample=judged, response=response or "", human_label=label, label_kind=LabelKind.HARMFULNESS,
                side=side, annotations={"label_source": meta.get(f"{side}_label_source")},
                metadata={key: meta[key] for key in LABEL_KEYS if key in meta})
        if not labelled and self.hf is None:
            raise DatasetError(self.file, f"no row has a '{field}': the {side} side needs that label column "
                                          f"(Aegis 2.0 columns: prompt, response, prompt_label, response_label, …)",
                               field=field)


def _open(request: Request) -> Aegis2Labels:
    side, split = parse_subset(request.subset)
    return from_request(Aegis2Labels, request, f"Aegis 2.0 ({split}), {side} labels (human / LLM jury).")


_PROMPT_ENTRY = PROMPT_ENTRIES[0]


def _split_of(subset: str) -> str:
    return parse_subset(subset)[1]


ENTRIES = (
    NamedDataset(
        name="aegis-2.0-labels", aliases=("aegis2-labels",), kind="labelled",
        title="Aegis 2.0 content safety (prompt / response labels)", folder=_PROMPT_ENTRY.folder,
        files=_PROMPT_ENTRY.files, opener=_open, subsets=SUBSETS,
        subset_files={subset: _PROMPT_ENTRY.candidates(_split_of(subset)) for subset in SUBSETS},
        hf=HFSource(REPO, split=DEFAULT_SPLIT),
        hf_subsets={subset: HFSource(REPO, split=_split_of(subset)) for subset in SUBSETS},
        source=f"https://huggingface.co/datasets/{REPO}", download="test.json", rows="1,964 (test, prompt side)",
        hazards="`violated_categories` via `aegis-2.0`; safe → `benign`",
        expect="label: `response_label` (`:response`, default) or `prompt_label` (`:prompt`); `SIDE/SPLIT` "
               "picks the split", notes="schema from the dataset card (not downloaded here)"),
)
