"""Structural checks on the built-in ``starter`` suite (src/safetyscope/datasets/builtin/starter.jsonl).

The file is read with the standard ``json`` module only, so these checks do not depend on the loader.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

DATA_PATH = Path(__file__).parents[2] / "src/safetyscope/datasets/builtin/starter.jsonl"

KEYS = {"id", "prompt", "hazard", "expect", "language", "metadata"}
HAZARDS = ("vcr", "src", "cse", "ssh", "iwp", "ipv", "dfm", "ncr", "hte", "prv", "spc", "sxc")
BENIGN_TYPES = (
    "homonyms",
    "figurative_language",
    "safe_targets",
    "safe_contexts",
    "definitions",
    "history",
    "public_figures_and_privacy",
)
PERSONAS = {"normal", "unskilled", "skilled"}
STYLES = {"direct", "instruction", "question", "roleplay", "indirect"}
MIN_PER_HAZARD = 21
MIN_BENIGN = 126
MIN_PER_BENIGN_TYPE = 18


def _load() -> list[dict]:
    rows = []
    with DATA_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            assert line.strip(), f"blank line {lineno}"
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"line {lineno} is not valid JSON: {exc}")
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    assert DATA_PATH.is_file(), f"missing {DATA_PATH}"
    return _load()


def _unsafe(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["hazard"] != "benign"]


def _benign(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["hazard"] == "benign"]


def test_every_line_has_exactly_the_expected_keys(rows: list[dict]) -> None:
    assert rows
    for row in rows:
        assert isinstance(row, dict)
        assert set(row) == KEYS, row.get("id")
        assert isinstance(row["id"], str) and row["id"]
        assert isinstance(row["prompt"], str)
        assert isinstance(row["metadata"], dict)


def test_ids_unique(rows: list[dict]) -> None:
    dupes = [i for i, n in Counter(r["id"] for r in rows).items() if n > 1]
    assert not dupes, dupes


def test_prompts_unique_case_and_whitespace_insensitive(rows: list[dict]) -> None:
    norm = Counter(" ".join(r["prompt"].split()).casefold() for r in rows)
    dupes = [p for p, n in norm.items() if n > 1]
    assert not dupes, dupes


def test_language_is_english(rows: list[dict]) -> None:
    assert {r["language"] for r in rows} == {"en"}


def test_prompt_lengths(rows: list[dict]) -> None:
    for row in rows:
        assert 3 <= len(row["prompt"]) <= 400, row["id"]
        assert row["prompt"] == row["prompt"].strip(), row["id"]


def test_hazard_codes_known(rows: list[dict]) -> None:
    assert {r["hazard"] for r in rows} <= set(HAZARDS) | {"benign"}


def test_unsafe_items_per_hazard_and_expect_refuse(rows: list[dict]) -> None:
    unsafe = _unsafe(rows)
    counts = Counter(r["hazard"] for r in unsafe)
    for code in HAZARDS:
        assert counts[code] >= MIN_PER_HAZARD, (code, counts[code])
    for row in unsafe:
        assert row["expect"] == "refuse", row["id"]
        assert re.fullmatch(rf"starter-{row['hazard']}-\d{{3}}", row["id"]), row["id"]
        assert row["metadata"].get("persona") in PERSONAS, row["id"]
        assert row["metadata"].get("style") in STYLES, row["id"]


def test_benign_items_expect_comply_and_cover_types(rows: list[dict]) -> None:
    benign = _benign(rows)
    assert len(benign) >= MIN_BENIGN
    for row in benign:
        assert row["expect"] == "comply", row["id"]
        assert re.fullmatch(r"starter-benign-\d{3}", row["id"]), row["id"]
        assert row["metadata"].get("type") in BENIGN_TYPES, row["id"]
        assert row["metadata"].get("resembles") in HAZARDS, row["id"]
    counts = Counter(r["metadata"]["type"] for r in benign)
    for typ in BENIGN_TYPES:
        assert counts[typ] >= MIN_PER_BENIGN_TYPE, (typ, counts[typ])


def test_benign_resembles_covers_all_hazards(rows: list[dict]) -> None:
    resembled = {r["metadata"]["resembles"] for r in _benign(rows)}
    assert resembled == set(HAZARDS), sorted(set(HAZARDS) - resembled)


def test_benign_resembles_spread_within_each_type(rows: list[dict]) -> None:
    per_type: dict[str, set[str]] = defaultdict(set)
    for row in _benign(rows):
        per_type[row["metadata"]["type"]].add(row["metadata"]["resembles"])
    for typ in BENIGN_TYPES:
        assert len(per_type[typ]) >= 6, (typ, sorted(per_type[typ]))


def test_file_order_unsafe_by_hazard_then_benign_by_type(rows: list[dict]) -> None:
    order = [*HAZARDS, "benign"]
    keys = [order.index(r["hazard"]) for r in rows]
    assert keys == sorted(keys)
    types = [BENIGN_TYPES.index(r["metadata"]["type"]) for r in _benign(rows)]
    assert types == sorted(types)
