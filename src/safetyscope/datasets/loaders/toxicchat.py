"""ToxicChat (Lin et al. 2023; ``lmsys/toxic-chat``, config ``toxicchat0124``): real user prompts to a chatbot,
human-labelled for toxicity and jailbreaking.

Format (dataset card): CSV ``conv_id, user_input, model_output, human_annotation, toxicity, jailbreaking,
openai_moderation`` (``toxic-chat_annotation_{train,test}.csv``). ``toxicity`` 1 → expect refuse; ToxicChat gives
no category, so these rows are ``unmapped``; 0 → ``benign``, comply. ``jailbreaking``, ``human_annotation``, the
chatbot's ``model_output`` and the ``openai_moderation`` scores (machine output, kept as written) go to metadata.
Schema from the dataset card; tested on a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safetyscope.core.records import Sample
from safetyscope.datasets.hazards import benign, unmapped
from safetyscope.datasets.loaders._common import SourceDataset, build_sample, flag, from_request, prompt_text
from safetyscope.datasets.named import HFSource, NamedDataset, Request
from safetyscope.datasets.readers import Row, Where, table_records, text

FORMAT = "ToxicChat"
COLUMNS = ("conv_id", "user_input", "model_output", "human_annotation", "toxicity", "jailbreaking",
           "openai_moderation")
REQUIRED = ("conv_id", "user_input", "toxicity")
TOXIC = unmapped("ToxicChat labels toxicity without a category")
REPO = "lmsys/toxic-chat"


@dataclass(frozen=True)
class ToxicChat(SourceDataset):
    """One ToxicChat split."""

    def _records(self) -> Iterator[tuple[Where, Row]]:
        if self.hf is not None:
            yield from self.hf.records()
        else:
            yield from table_records(self.file, fmt=FORMAT, required=REQUIRED, expected=COLUMNS)

    def _entries(self) -> Iterator[tuple[Where, Sample]]:
        for where, row in self._records():
            toxic = flag(where, row, "toxicity")
            metadata = {"toxicity": int(toxic), "model_output": row.get("model_output"),
                        "openai_moderation": row.get("openai_moderation")}
            for key in ("jailbreaking", "human_annotation"):
                if row.get(key) not in (None, ""):
                    metadata[key] = flag(where, row, key)
            yield where, build_sample(where, sample_id=text(where, row, "conv_id"), dataset=self.name,
                                      mapping=TOXIC if toxic else benign(),
                                      prompt=prompt_text(where, row, "user_input"), metadata=metadata)


def _open(request: Request) -> ToxicChat:
    return from_request(ToxicChat, request, f"ToxicChat ({request.subset or 'test'}): real user prompts labelled "
                                            "for toxicity and jailbreaking.")


def _files(split: str) -> tuple[str, ...]:
    name = f"toxic-chat_annotation_{split}.csv"
    return (name, f"data/0124/{name}")


ENTRIES = (
    NamedDataset(
        name="toxicchat", aliases=("toxic-chat",), kind="benchmark", title="ToxicChat (0124)", folder="toxicchat",
        files=_files("test"), opener=_open, subsets=("train", "test"),
        subset_files={split: _files(split) for split in ("train", "test")},
        hf=HFSource(REPO, split="test", config="toxicchat0124"),
        hf_subsets={split: HFSource(REPO, split=split, config="toxicchat0124") for split in ("train", "test")},
        source=f"https://huggingface.co/datasets/{REPO}", download="data/0124/toxic-chat_annotation_test.csv",
        rows="5,083 (test)", hazards="toxic → `unmapped` (no categories); non-toxic → `benign`",
        expect="refuse (toxic), comply (non-toxic)", notes="schema from the dataset card (not downloaded here)"),
)
