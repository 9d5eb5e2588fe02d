"""One module per public benchmark format. Each exposes ``ENTRIES``: the named datasets it can open."""

from __future__ import annotations

from safetyscope.datasets.loaders import (
    advbench,
    aegis,
    aegis_labels,
    ailuminate,
    beavertails,
    cyberseceval,
    do_not_answer,
    harmbench,
    jailbreakbench,
    openai_moderation,
    openai_moderation_labels,
    rmcbench,
    s_eval,
    simplesafetytests,
    sorry_bench,
    strongreject,
    toxicchat,
    xstest,
)
from safetyscope.datasets.named import NamedDataset

ENTRIES: tuple[NamedDataset, ...] = (
    *simplesafetytests.ENTRIES,
    *xstest.ENTRIES,
    *harmbench.ENTRIES,
    *advbench.ENTRIES,
    *jailbreakbench.ENTRIES,
    *strongreject.ENTRIES,
    *do_not_answer.ENTRIES,
    *s_eval.ENTRIES,
    *cyberseceval.ENTRIES,
    *rmcbench.ENTRIES,
    *sorry_bench.ENTRIES,
    *ailuminate.ENTRIES,
    *aegis.ENTRIES,
    *openai_moderation.ENTRIES,
    *toxicchat.ENTRIES,
    *beavertails.ENTRIES,
    *openai_moderation_labels.ENTRIES,
    *aegis_labels.ENTRIES,
)

__all__ = ["ENTRIES"]
