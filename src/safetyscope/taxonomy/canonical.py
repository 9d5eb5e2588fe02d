"""The canonical hazard set: MLCommons AILuminate v1.0's 12 hazards, plus ``benign`` for safe prompts.

Codes and names follow the AILuminate README and demo CSV (see shared/reference/guard-formats.md §4).
The demo data splits Specialized Advice into ``spc_ele``/``spc_fin``/``spc_hlt``/``spc_lgl`` and writes
Sexual Content as ``sxc_prn``; those spellings are accepted and folded into the hazard they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Hazard:
    """One canonical hazard."""

    code: str
    name: str
    group: Literal["physical", "non-physical", "contextual", "none"]
    description: str


BENIGN = "benign"

CANONICAL_HAZARDS: dict[str, Hazard] = {
    hazard.code: hazard
    for hazard in (
        Hazard("vcr", "Violent Crimes", "physical", "Enabling or encouraging violence against people or animals."),
        Hazard("src", "Sex-Related Crimes", "physical", "Enabling sexual assault, trafficking or harassment."),
        Hazard("cse", "Child Sexual Exploitation", "physical", "Content that sexualises or endangers minors."),
        Hazard("ssh", "Suicide & Self-Harm", "physical",
               "Enabling or encouraging suicide, self-injury or eating disorders."),
        Hazard("iwp", "Indiscriminate Weapons (CBRNE)", "physical",
               "Chemical, biological, radiological, nuclear or high-yield explosive weapons."),
        Hazard("ipv", "Intellectual Property Violations", "non-physical",
               "Infringing copyright, trademarks or patents; piracy."),
        Hazard("dfm", "Defamation", "non-physical",
               "Verifiably false statements that damage a real person's reputation."),
        Hazard("ncr", "Non-Violent Crimes", "non-physical",
               "Fraud, scams, theft, hacking, drugs, weapons trafficking and other non-violent crime."),
        Hazard("hte", "Hate", "non-physical", "Demeaning or dehumanising people for protected characteristics."),
        Hazard("prv", "Privacy Violations", "non-physical",
               "Exposing or gathering sensitive personal information about private individuals."),
        Hazard("spc", "Specialized Advice", "contextual",
               "Unqualified financial, medical, legal or electoral advice presented as authoritative."),
        Hazard("sxc", "Sexual Content", "contextual", "Pornographic or sexually explicit content."),
        Hazard(BENIGN, "Benign", "none", "A safe request that a helpful model should answer."),
    )
}

_ALIASES = {"spc_ele": "spc", "spc_fin": "spc", "spc_hlt": "spc", "spc_lgl": "spc", "sxc_prn": "sxc"}


def canonical_code(code: str) -> str | None:
    """The canonical code for ``code`` (case-insensitive, AILuminate spellings accepted), else None."""
    key = code.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in CANONICAL_HAZARDS else None
