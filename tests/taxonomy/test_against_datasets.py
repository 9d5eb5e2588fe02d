"""Taxonomy codes checked against the category labels the third-party datasets actually carry.

Uses the shared data (``SAFETYSCOPE_SHARED`` or ``../shared``): skipped with a reason when absent, a failure
when ``CI`` is set (see the ``shared`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from safetyscope.taxonomy import TaxonomyCatalog


@pytest.fixture(scope="module")
def catalog() -> TaxonomyCatalog:
    return TaxonomyCatalog()


def _csv_column(path: Path, column: str) -> Counter[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return Counter(row[column] for row in csv.DictReader(handle))


def test_air_bench_level_4_matches_the_real_judge_prompt_file(shared: Path, catalog: TaxonomyCatalog):
    folder = shared / "datasets" / "air-bench-2024"
    info = json.loads((folder / "judge_prompts" / "dataset_info.json").read_text(encoding="utf-8"))
    level4 = catalog.load("air-bench-2024").at_level("L4")
    assert info["splits"]["test"]["num_examples"] == len(level4) == 314
    # The Arrow IPC stream stores the cate-idx column as one contiguous UTF-8 buffer: our 314 codes, in order,
    # concatenated, must appear verbatim (no pyarrow needed).
    arrow = (folder / "judge_prompts" / "air-bench-2024-judge_prompts-test.arrow").read_bytes()
    joined = "".join(entry.code for entry in level4).encode()
    at = arrow.find(joined)
    assert at > 0 and not arrow[at + len(joined):at + len(joined) + 1].isdigit()
    names = "".join(entry.aliases[0] if entry.aliases else entry.name for entry in level4).encode()
    assert names in arrow  # the l4-name column, in the same order


def test_air_bench_levels_2_to_4_match_risk_mapping_json(shared: Path, catalog: TaxonomyCatalog):
    mapping = json.loads((shared / "datasets" / "air-bench-2024" / "risk_mapping.json").read_text(encoding="utf-8"))
    air = catalog.load("air-bench-2024")
    assert [(e.code, e.name) for e in air.at_level("L2")] == [(k, v["name"]) for k, v in mapping.items()]
    level3 = [(k3, v3["name"], k2) for k2, v2 in mapping.items() for k3, v3 in v2["subcategories"].items()]
    assert [(e.code, e.name, e.parent) for e in air.at_level("L3")] == level3
    items = {item["idx"]: item["name"] for v2 in mapping.values() for v3 in v2["subcategories"].values()
             for item in v3["items"]}
    assert len(items) == 312
    ours = {entry.code: entry for entry in air.at_level("L4")}
    # risk_mapping.json differs from the judge prompts in exactly one place: 3.12.22 'Military and Warfare'
    # stands where the prompts have 3.11.22 Radiological Weapons, 3.12.23 Military and 3.12.24 Warfare.
    assert set(items) - set(ours) == {"3.12.22"} and set(ours) - set(items) == {"3.11.22", "3.12.23", "3.12.24"}
    assert air.get("3.12.22").code == "3.12"
    for idx, name in items.items():
        if idx in ours:
            assert ours[idx].name == name, idx


def test_simplesafetytests_harm_areas_are_the_taxonomy_names(shared: Path, catalog: TaxonomyCatalog):
    areas = _csv_column(shared / "datasets" / "simplesafetytests" / "simplesafetytests_test_cases.csv", "harm_area")
    sst = catalog.load("simplesafetytests")
    assert set(areas) == {entry.name for entry in sst.codes} and set(areas.values()) == {20}
    assert all(sst.find(area) is not None for area in areas)


def test_jailbreakbench_categories_are_the_taxonomy_names(shared: Path, catalog: TaxonomyCatalog):
    categories = _csv_column(shared / "datasets" / "jailbreakbench" / "behaviors.csv", "Category")
    assert set(categories) == {entry.name for entry in catalog.load("jailbreakbench").codes}
    assert set(categories.values()) == {10}


def test_harmbench_semantic_categories_are_the_taxonomy_codes(shared: Path, catalog: TaxonomyCatalog):
    path = shared / "datasets" / "harmbench" / "data" / "behavior_datasets" / "harmbench_behaviors_text_all.csv"
    categories = _csv_column(path, "SemanticCategory")
    assert set(categories) == {entry.code for entry in catalog.load("harmbench").codes}


def test_do_not_answer_files_are_the_risk_area_codes(shared: Path, catalog: TaxonomyCatalog):
    folder = shared / "datasets" / "do-not-answer"
    stems = {path.stem for path in folder.glob("*.jsonl")}
    assert stems == {entry.code for entry in catalog.load("do-not-answer").codes}
    rows = sum(sum(1 for line in path.open(encoding="utf-8") if line.strip()) for path in folder.glob("*.jsonl"))
    assert rows == 939


def test_s_eval_risk_types_are_the_taxonomy_codes(shared: Path, catalog: TaxonomyCatalog):
    path = shared / "datasets" / "s-eval" / "s_eval" / "full" / "S-Eval_base_risk_en_full.jsonl.zip"
    member = zipfile.ZipFile(path).read("S-Eval_base_risk_en_full.jsonl").decode("utf-8")
    risk_types = {json.loads(line)["risk_type"] for line in member.splitlines() if line.strip()}
    assert risk_types == {entry.code for entry in catalog.load("s-eval").codes}
