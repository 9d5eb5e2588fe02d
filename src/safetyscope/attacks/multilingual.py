"""Low-resource-language jailbreaks (Yong et al. 2023, *Low-Resource Languages Jailbreak GPT-4*; Deng et al.
2024, MultiJail): the attacker model translates the request into a low-resource language and translates the
target's reply back into English before judging. Registered as ``multilingual_<code>``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from safetyscope.attacks.base import attacks
from safetyscope.attacks.translation import TranslationAttack

LOW_RESOURCE = {"zu": "Zulu", "gd": "Scottish Gaelic", "hmn": "Hmong", "gn": "Guarani", "bn": "Bengali",
                "sw": "Swahili", "jv": "Javanese"}
"""Yong et al.'s four lowest-resource languages (zu, gd, hmn, gn) and MultiJail's low-resource three (bn, sw, jv)."""


def create_multilingual(language: str, **options: Any) -> TranslationAttack:
    return TranslationAttack(f"multilingual_{language}", language, **options)


for _code, _name in LOW_RESOURCE.items():
    attacks.register(f"multilingual_{_code}", description=f"Model-driven: the request translated into {_name} "
                     "by an attacker model; the reply translated back to English before judging.")(
        partial(create_multilingual, _code))
