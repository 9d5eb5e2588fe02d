"""Importing the built-in component modules registers them; plugins come through entry points."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from safetyscope.core.registry import load_plugins

BUILTIN_MODULES = (
    "safetyscope.targets.mock",
    "safetyscope.targets.openai_compat",
    "safetyscope.targets.embedded",
    "safetyscope.targets.defended",
    "safetyscope.targets.guarded",
    "safetyscope.judges.refusal",
    "safetyscope.judges.harm",
    "safetyscope.judges.prompt_harm",
    "safetyscope.judges.exchange_harm",
    "safetyscope.judges.guard_judge",
    "safetyscope.judges.llama_guard", "safetyscope.judges.aegis", "safetyscope.judges.shieldgemma", "safetyscope.judges.wildguard", "safetyscope.judges.granite_guardian", "safetyscope.judges.harmbench", "safetyscope.judges.strongreject", "safetyscope.judges.sorry_bench", "safetyscope.judges.rubric", "safetyscope.judges.moderation", "safetyscope.judges.ensemble",  # noqa: E501
    "safetyscope.attacks.base",
    "safetyscope.attacks.encodings",
    "safetyscope.attacks.sorry_bench",
    "safetyscope.attacks.codeattack",
    "safetyscope.attacks.templates",
    "safetyscope.attacks.template_import",
    "safetyscope.attacks.chain_of_utterances",
    "safetyscope.attacks.seval",
    "safetyscope.attacks.pcjailbreak",
    "safetyscope.attacks.multiturn_pair",
    "safetyscope.attacks.multiturn_tap",
    "safetyscope.attacks.multiturn_crescendo",
    "safetyscope.attacks.rewrite",
    "safetyscope.attacks.sorry_bench_mutations",
    "safetyscope.attacks.multilingual",
)


@cache
def load_components() -> None:
    """Register built-in targets, judges and attacks, then third-party plugins (once per process)."""
    for module in BUILTIN_MODULES:
        import_module(module)
    load_plugins()
