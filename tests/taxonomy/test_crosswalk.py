"""to_canonical / from_canonical, round trips through the hub, look-up spellings and errors."""

from __future__ import annotations

import pytest

from safetyscope.core.errors import UsageError
from safetyscope.taxonomy import (
    BENIGN,
    CANONICAL_HAZARDS,
    TaxonomyCatalog,
    UnknownCodeError,
    UnknownTaxonomyError,
    from_canonical,
    list_taxonomies,
    load_taxonomy,
    to_canonical,
)
from safetyscope.taxonomy.records import TaxonomyError

HAZARDS = tuple(code for code in CANONICAL_HAZARDS if code != BENIGN)


@pytest.fixture(scope="module")
def catalog() -> TaxonomyCatalog:
    return TaxonomyCatalog()


def test_module_functions_translate_known_codes():
    assert to_canonical("llama-guard-3", "S9") == ("iwp",)
    assert to_canonical("llama-guard-3", "S13") == ("spc",)
    assert to_canonical("mlcommons-v0.5", "cae") == ("cse",)
    assert to_canonical("openai-moderation", "sexual/minors") == ("cse",)
    assert to_canonical("openai-moderation-legacy", "H2") == ("hte", "vcr")
    assert to_canonical("aegis-1.0", "O12") == ()  # Profanity: out of scope
    assert from_canonical("iwp", "llama-guard-2") == ("S8",)
    assert from_canonical("dfm", "llama-guard-2") == ()  # Llama Guard 2 dropped Defamation
    assert "llama-guard-3" in list_taxonomies()
    assert load_taxonomy("LG3").name == "llama-guard-3"


def test_lookups_accept_names_aliases_and_prompt_spellings(catalog: TaxonomyCatalog):
    lg3 = catalog.load("llama-guard-3")
    assert lg3.get("s1") is lg3.get("S1") is lg3.get("Violent Crimes.") is lg3.get(" violent crimes ")
    assert lg3.get("Sex Crimes") is lg3.get("S3")  # the prompt's short name
    assert catalog.to_canonical("nemoguard", "Violence") == ("vcr",)  # NemoGuard outputs names
    assert catalog.to_canonical("simplesafetytests", "Child safety") == ("cse", "vcr")
    assert catalog.to_canonical("jailbreakbench", "Malware/Hacking") == ("ncr",)
    assert catalog.to_canonical("sorry-bench-2406", "Stalking and Harassment") == ("ncr", "src")
    assert catalog.to_canonical("air-bench-2024", "drugs") == ("ncr",)  # judge-prompt spelling of 16.43.1
    assert catalog.load("air-bench-2024").get("3.12.22").code == "3.12"  # risk_mapping.json's merged item
    assert catalog.resolve("Weidinger-2021") == "deepmind-ethical-social-risks"


def test_canonical_hazard_spellings_are_accepted_in_reverse_lookups(catalog: TaxonomyCatalog):
    assert catalog.from_canonical("spc_ele", "llama-guard-3") == catalog.from_canonical("spc", "llama-guard-3")
    assert catalog.from_canonical(BENIGN, "llama-guard-3") == ()


@pytest.mark.parametrize("name", list_taxonomies())
def test_round_trip_canonical_to_taxonomy_to_canonical_includes_the_start(catalog: TaxonomyCatalog, name: str):
    taxonomy = catalog.load(name)
    reached = set()
    for hazard in HAZARDS:
        for code in catalog.from_canonical(hazard, taxonomy):
            assert hazard in catalog.to_canonical(taxonomy, code), (name, hazard, code)
            reached.add(code)
    mapped = {entry.code for entry in taxonomy.codes if not entry.out_of_scope}
    assert reached == mapped  # every mapped code is reachable from some hazard
    for entry in taxonomy.codes:  # and the reverse direction: code -> hazard -> codes includes the code
        for hazard in entry.hazards:
            assert entry.code in catalog.from_canonical(hazard, taxonomy)


@pytest.mark.parametrize("name", ["ailuminate-v1.0", "llama-guard-3", "llama-guard-4", "mlcommons-v0.5",
                                  "sorry-bench", "air-bench-2024"])
def test_broad_taxonomies_cover_every_hazard(catalog: TaxonomyCatalog, name: str):
    for hazard in HAZARDS:
        assert catalog.from_canonical(hazard, name), (name, hazard)


def test_the_hub_round_trips_to_itself(catalog: TaxonomyCatalog):
    for hazard in HAZARDS:
        assert catalog.from_canonical(hazard, "ailuminate-v1.0") == (hazard,)
        assert catalog.to_canonical("ailuminate-v1.0", hazard) == (hazard,)


def test_levels_and_exact_fits_narrow_the_reverse_map(catalog: TaxonomyCatalog):
    air = catalog.load("air-bench-2024")
    l4 = catalog.from_canonical("iwp", air, level="L4")
    assert l4 == ("3.11.18", "3.11.19", "3.11.20", "3.11.21", "3.11.22")
    assert catalog.from_canonical("iwp", air, level="L4", exact_only=True) == l4[1:]
    assert all(air.get(code).level == "L4" for code in catalog.from_canonical("hte", air, level="L4"))
    with pytest.raises(TaxonomyError, match="no level 'L5'"):
        catalog.from_canonical("iwp", air, level="L5")


def test_translate_goes_through_the_canonical_hazards(catalog: TaxonomyCatalog):
    assert catalog.translate("O5", source="llama-guard-1", target="llama-guard-3") == ("S2", "S14")
    assert catalog.translate("S9", source="llama-guard-3", target="openai-moderation") == ()
    assert catalog.translate("sexual/minors", source="openai-moderation", target="aegis-2.0") == ("S7",)
    assert catalog.translate("O12", source="aegis-1.0", target="llama-guard-3") == ()


def test_unknown_names_raise_usage_errors_with_hints(catalog: TaxonomyCatalog):
    with pytest.raises(UnknownTaxonomyError, match=r"known: .*llama-guard-3"):
        catalog.load("llama-guard-9")
    with pytest.raises(UnknownCodeError, match=r"unknown code 'S99'.*taxonomy show llama-guard-3"):
        catalog.to_canonical("llama-guard-3", "S99")
    with pytest.raises(UnknownCodeError, match="unknown canonical hazard 'xyz'"):
        catalog.from_canonical("xyz", "llama-guard-3")
    assert issubclass(UnknownCodeError, UsageError) and UnknownCodeError("x").exit_code == 2


def test_catalog_caches_per_instance_and_loads_from_any_directory(tmp_path):
    catalog = TaxonomyCatalog()
    assert catalog.load("harmbench") is catalog.load("harmbench")
    assert TaxonomyCatalog().load("harmbench") is not catalog.load("harmbench")
    source = catalog.load("simplesafetytests").model_dump_json()
    (tmp_path / "simplesafetytests.json").write_text(source, encoding="utf-8")
    (tmp_path / "broken.json").write_text('{"name": "broken"}', encoding="utf-8")
    local = TaxonomyCatalog(tmp_path)
    assert local.names() == ("broken", "simplesafetytests")
    assert local.to_canonical("simplesafetytests", "scams_fraud") == ("ncr",)
    with pytest.raises(TaxonomyError, match=r"broken\.json is invalid"):
        local.load("broken")
