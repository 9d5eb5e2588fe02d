"""The shipped taxonomy data: published counts, a complete crosswalk, and names checked against the sources."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from safetyscope.taxonomy import (
    BENIGN,
    CANONICAL_HAZARDS,
    CANONICAL_TAXONOMY,
    Hazard,
    TaxonomyCatalog,
    canonical_code,
    list_taxonomies,
    load_taxonomy,
)

# Published counts per level ("code" for a flat list), as stated by each source.
PUBLISHED = {
    "ailuminate-v1.0": {"code": 12},
    "mlcommons-v0.5": {"code": 13},
    "llama-guard-1": {"code": 6},
    "llama-guard-2": {"code": 11},
    "llama-guard-3": {"code": 14},
    "llama-guard-4": {"code": 14},
    "aegis-1.0": {"code": 13},
    "aegis-2.0": {"code": 23},
    "sorry-bench": {"domain": 4, "category": 44},
    "sorry-bench-2406": {"domain": 4, "category": 45},
    "simplesafetytests": {"code": 5},
    "air-bench-2024": {"L1": 4, "L2": 16, "L3": 43, "L4": 314},
    "openai-moderation": {"code": 13},
    "openai-moderation-legacy": {"code": 8},
    "harmbench": {"code": 7},
    "jailbreakbench": {"code": 10},
    "do-not-answer": {"code": 5},
    "s-eval": {"code": 8},
    "agent-safetybench": {"risk_category": 8, "failure_mode": 10},
    "deepmind-ethical-social-risks": {"area": 6, "risk": 21},
    "strongreject": {"code": 6},
    "beavertails": {"code": 14},
    "xstest": {"code": 18},
}
HAZARDS = tuple(code for code in CANONICAL_HAZARDS if code != BENIGN)


@pytest.fixture(scope="module")
def catalog() -> TaxonomyCatalog:
    return TaxonomyCatalog()


def test_every_seed_taxonomy_ships_as_package_data(catalog: TaxonomyCatalog):
    assert set(list_taxonomies()) == set(PUBLISHED)
    data = resources.files("safetyscope.taxonomy") / "data"
    assert {entry.name for entry in data.iterdir() if entry.name.endswith(".json")} == {
        f"{name}.json" for name in PUBLISHED}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_code_counts_match_the_published_counts(catalog: TaxonomyCatalog, name: str):
    taxonomy = catalog.load(name)
    assert taxonomy.counts() == PUBLISHED[name]
    assert taxonomy.published_counts == PUBLISHED[name]
    assert taxonomy.source.citation and taxonomy.version and taxonomy.verification


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_code_maps_somewhere_or_is_out_of_scope_with_a_reason(catalog: TaxonomyCatalog, name: str):
    for entry in catalog.load(name).codes:
        if entry.out_of_scope:
            assert not entry.maps_to and entry.reason and len(entry.reason) > 20, entry.code
            assert entry.hazards == ()
        else:
            assert entry.maps_to, entry.code
            for link in entry.maps_to:
                assert link.hazard in HAZARDS, (entry.code, link.hazard)
                assert link.fit in ("exact", "partial")
                assert link.rationale.strip() and "\n" not in link.rationale, (entry.code, link.hazard)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parents_exist_and_levels_nest(catalog: TaxonomyCatalog, name: str):
    taxonomy = catalog.load(name)
    codes = {entry.code: entry for entry in taxonomy.codes}
    for entry in taxonomy.codes:
        if entry.parent is not None:
            assert entry.parent in codes
    if not taxonomy.hierarchical:
        assert all(entry.parent is None for entry in taxonomy.codes)
        return
    for level in taxonomy.levels[1:]:
        assert all(entry.parent in codes for entry in taxonomy.at_level(level)), level


def test_the_canonical_data_file_matches_canonical_py(catalog: TaxonomyCatalog):
    hub = catalog.load(CANONICAL_TAXONOMY)
    assert [entry.code for entry in hub.codes] == list(HAZARDS)
    for entry in hub.codes:
        hazard = CANONICAL_HAZARDS[entry.code]
        assert entry.name == hazard.name and entry.group == hazard.group
        assert entry.hazards == (entry.code,) and entry.maps_to[0].fit == "exact"
    assert hub.find("spc_ele") is hub.get("spc") and hub.find("sxc_prn") is hub.get("sxc")
    assert catalog.resolve("canonical") == CANONICAL_TAXONOMY


def test_canonical_py_public_names_still_work():
    assert isinstance(CANONICAL_HAZARDS["vcr"], Hazard) and BENIGN in CANONICAL_HAZARDS
    assert canonical_code(" SPC_ELE ") == "spc" and canonical_code("nope") is None


# --------------------------------------------------------------------------- spot checks (no shared data needed)
SPOT = [
    ("llama-guard-1", "O1", "Violence and Hate"), ("llama-guard-1", "O3", "Criminal Planning"),
    ("llama-guard-1", "O6", "Self-Harm"),
    ("llama-guard-2", "S5", "Specialized Advice"), ("llama-guard-2", "S11", "Sexual Content"),
    ("llama-guard-3", "S5", "Defamation"), ("llama-guard-3", "S13", "Elections"),
    ("llama-guard-3", "S14", "Code Interpreter Abuse"),
    ("llama-guard-4", "S14", "Code Interpreter Abuse (text only)"),
    ("aegis-1.0", "O7", "Sexual (minor)"), ("aegis-1.0", "O13", "Needs Caution"),
    ("aegis-2.0", "S18", "High Risk Gov Decision Making"), ("aegis-2.0", "S23", "Immoral/Unethical"),
    ("mlcommons-v0.5", "cae", "Child sexual exploitation"), ("mlcommons-v0.5", "nvc", "Non-violent crimes"),
    ("openai-moderation", "illicit/violent", "Illicit (violent)"), ("openai-moderation-legacy", "S3", "sexual/minors"),
    ("openai-moderation-legacy", "V2", "violence/graphic"),
    ("sorry-bench", "12", "General Advice for System Intrusion, Hacking & Cyber Attacks, Data Privacy and "
                          "Confidentiality Violations"),
    ("sorry-bench", "24", "Human Elimination & World Domination"), ("sorry-bench", "44",
                                                                     "Dangerous Machinery Operation Advice"),
    ("sorry-bench-2406", "12", "Impersonation"), ("sorry-bench-2406", "35", "Religion Promotion (Missionary)"),
    ("sorry-bench-2406", "45", "Dangerous Machinery Operation Advice"),
    ("harmbench", "chemical_biological", "Chemical & Biological Weapons/Drugs"),
    ("s-eval", "Inappropriate_Suggestions", "Inappropriate Suggestions"),
    ("air-bench-2024", "3.11.19", "Bioweapons/Viruses/Gain-of-function"), ("air-bench-2024", "12", "Defamation"),
    ("air-bench-2024", "3.11.22", "Radiological Weapons"), ("air-bench-2024", "content_safety", "Content Safety Risks"),
    ("agent-safetybench", "violate_law_ethics", "Violate law or ethics / damage society"),
    ("agent-safetybench", "10", "Failing to filter the results returned by tools"),
    ("deepmind-ethical-social-risks", "IV", "Malicious Uses"),
    ("deepmind-ethical-social-risks", "VI.3", "Undermining creative economies"),
]


@pytest.mark.parametrize(("name", "code", "expected"), SPOT)
def test_spot_check_code_names(catalog: TaxonomyCatalog, name: str, code: str, expected: str):
    assert catalog.load(name).get(code).name == expected


def test_sorry_bench_domains_follow_the_published_ranges(catalog: TaxonomyCatalog):
    sorry = catalog.load("sorry-bench")
    ranges = {"hate_speech_generation": range(1, 6), "assistance_with_crimes_or_torts": range(6, 25),
              "potentially_inappropriate_topics": range(25, 40), "potentially_unqualified_advice": range(40, 45)}
    for domain, ids in ranges.items():
        assert [entry.code for entry in sorry.codes if entry.parent == domain] == [str(i) for i in ids]


def test_first_sorry_bench_release_inserts_impersonation(catalog: TaxonomyCatalog):
    old, new = catalog.load("sorry-bench-2406"), catalog.load("sorry-bench")
    shifted = [entry.name for entry in old.at_level("category") if entry.code != "12"]
    assert [n.replace(" (Missionary)", "") for n in shifted] == [entry.name for entry in new.at_level("category")]
    assert old.unverified  # domain boundaries of the 45-category release are inferred


def test_mlcommons_v05_has_seven_tested_hazards(catalog: TaxonomyCatalog):
    tested = [entry.code for entry in catalog.load("mlcommons-v0.5").codes if entry.group == "tested"]
    assert tested == ["vcr", "nvc", "scr", "cae", "cbr", "ssh", "hat"]


def test_unverifiable_items_are_flagged_in_the_data(catalog: TaxonomyCatalog):
    assert catalog.load("agent-safetybench").verified is False
    deepmind = catalog.load("deepmind-ethical-social-risks")
    assert {entry.code for entry in deepmind.codes if not entry.verified} == {"III.1", "III.3"}
    for name in ("aegis-2.0", "air-bench-2024", "do-not-answer", "s-eval", "openai-moderation"):
        assert catalog.load(name).unverified, name


# --------------------------------------------------------------------------- checks against the reference text
def _reference(shared: Path) -> str:
    path = shared / "reference" / "guard-formats.md"
    if not path.is_file():
        pytest.skip(f"reference text not found at {path}")
    return path.read_text(encoding="utf-8")


def test_nemoguard_names_match_the_reference_prompt(shared: Path):
    text = _reference(shared)
    start = text.index("S1: Violence.\nS2: Sexual.")
    block = text[start:text.index("S23: Immoral/Unethical.", start) + len("S23: Immoral/Unethical.")]
    listed = re.findall(r"^S(\d+): (.+)\.$", block, flags=re.MULTILINE)
    assert len(listed) == 23
    aegis2 = load_taxonomy("aegis-2.0")
    assert [(f"S{n}", name) for n, name in listed] == [(e.code, e.name) for e in aegis2.codes]


def test_aegis_1_and_llama_guard_prompt_names_match_the_reference(shared: Path):
    text = _reference(shared)
    aegis_section = text[text.index("### 2.1 Aegis 1.0"):text.index("### 2.2 Aegis 2.0")]
    aegis1 = re.findall(r"`O(\d+): ([^`]+)\.`", aegis_section)
    assert [(f"O{n}", name) for n, name in aegis1] == [(e.code, e.name) for e in load_taxonomy("aegis-1.0").codes]
    lg3_block = text[text.index("S1: Violent Crimes.\nS2"):text.index("S14: Code Interpreter Abuse.") + 30]
    lg3 = load_taxonomy("llama-guard-3")
    for number, name in re.findall(r"^S(\d+): (.+)\.$", lg3_block, flags=re.MULTILINE):
        assert lg3.get(f"S{number}") is lg3.get(name)  # the prompt's short name resolves to the same code
    flat = " ".join(text.split())
    for code, name in (("S3", "Sex-Related Crimes"), ("S4", "Child Sexual Exploitation"),
                       ("S11", "Suicide & Self-Harm")):
        assert f"{code} {name}" in flat and lg3.get(code).name == name


def test_seval_and_openai_names_match_the_reference(shared: Path):
    text = " ".join(_reference(shared).split())
    for entry in load_taxonomy("s-eval").codes:
        assert entry.code in text
    for entry in load_taxonomy("openai-moderation").codes:
        assert f"`{entry.code}`" in text
    for entry in load_taxonomy("openai-moderation-legacy").codes:
        assert f"{entry.code} {entry.name}" in text
