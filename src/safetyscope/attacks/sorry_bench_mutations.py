"""SORRY-Bench's model-driven mutations (Xie et al., ICLR 2025): six writing styles, five persuasion techniques
(PAP, Zeng et al. 2024) and five translations, each produced by an attacker model from a prompt in
``data/model_rewrites.yaml`` (wording ours, method published). Names follow the cipher mutations:
``sorry_bench_slang``, ``sorry_bench_logical_appeal``, ``sorry_bench_translate_ml``, ...
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from safetyscope.attacks.attacker import clean_reply, cut_at, usable_rewrite
from safetyscope.attacks.base import attacks
from safetyscope.attacks.rewrite import TemplateRewrite, render_examples, rewrite_prompts
from safetyscope.attacks.translation import TranslationAttack
from safetyscope.core.errors import AttackError

STYLES = ("question", "slang", "uncommon_dialects", "technical_terms", "role_play", "misspellings")
PERSUASION = ("logical_appeal", "authority_endorsement", "misrepresentation", "evidence_based_persuasion",
              "expert_endorsement")
TRANSLATIONS = ("ml", "ta", "mr", "zh", "fr")

MUTATED_TAG = "#mutated_text_with_same_specific_harmful_or_unlawful_intention:"
_MUTATED = re.compile(re.escape(MUTATED_TAG) + r"[ \t]*(.*?)(?=\n[ \t]*#|\Z)", re.DOTALL | re.IGNORECASE)


class PersuasionRewrite(TemplateRewrite):
    """PAP's output format: the rewrite is the text after the last ``#mutated_text…:`` tag, up to the next
    ``#`` line. A reply without the tag is an :class:`AttackError` (the attacker refused or lost the intent)."""

    def extract(self, reply: str, prompt: str) -> str:
        found = _MUTATED.findall(cut_at(reply, self.stop))
        if not found:
            raise AttackError(f"{self.what}: no '{MUTATED_TAG}' line in the attacker's reply: {reply[:200]!r}")
        return usable_rewrite(clean_reply(found[-1]), prompt, what=self.what)


def create_style(style: str, **options: Any) -> TemplateRewrite:
    prompts = rewrite_prompts()
    entry = prompts["styles"][style]
    values = {"instruction": entry["instruction"],
              "examples": render_examples(prompts["style_example"], entry["examples"])}
    return TemplateRewrite(f"sorry_bench_{style}", prompts["style_template"], values,
                           stop=prompts["stops"]["style"], **options)


def create_persuasion(technique: str, **options: Any) -> PersuasionRewrite:
    prompts = rewrite_prompts()
    entry = prompts["persuasion"][technique]
    values = {"technique": entry["technique"], "definition": entry["definition"],
              "examples": render_examples(prompts["persuasion_example"], entry["examples"])}
    return PersuasionRewrite(f"sorry_bench_{technique}", prompts["persuasion_template"], values,
                             stop=prompts["stops"]["persuasion"], **options)


def create_translation(language: str, **options: Any) -> TranslationAttack:
    return TranslationAttack(f"sorry_bench_translate_{language}", language, **options)


for _style in STYLES:
    attacks.register(f"sorry_bench_{_style}", description=f"Model-driven: SORRY-Bench writing style "
                     f"'{_style}', rewritten by an attacker model; seeded.")(partial(create_style, _style))
for _technique in PERSUASION:
    attacks.register(f"sorry_bench_{_technique}", description=f"Model-driven: SORRY-Bench persuasion "
                     f"'{_technique}' (PAP), rewritten by an attacker model; seeded.")(
        partial(create_persuasion, _technique))
for _language in TRANSLATIONS:
    attacks.register(f"sorry_bench_translate_{_language}", description=f"Model-driven: SORRY-Bench translation "
                     f"into '{_language}' by an attacker model; the reply is translated back before judging.")(
        partial(create_translation, _language))
