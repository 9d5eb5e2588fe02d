"""The one shared selection: all, a seeded uniform ``limit``, ``per_hazard`` strata, or both; always file order."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from helpers import write_jsonl
from safetyscope.core.errors import UsageError
from safetyscope.datasets import open_dataset, planned_count, select_items

HAZARDS = ["vcr"] * 50 + ["ncr"] * 30 + ["hte"] * 5 + ["benign"] * 15


@pytest.fixture
def dataset_path(tmp_path: Path) -> Path:
    rows = [{"id": str(i), "prompt": f"p{i}", "hazard": hazard} for i, hazard in enumerate(HAZARDS)]
    random.Random(0).shuffle(rows)  # strata interleaved through the file
    for position, row in enumerate(rows):
        row["id"] = str(position)
    return write_jsonl(tmp_path / "d.jsonl", rows)


def _old_reservoir(items: list[str], limit: int, seed: int) -> list[str]:
    """The reservoir sampling DatasetFile.select used before selection moved to one shared function."""
    rng = random.Random(seed)
    reservoir: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        if index < limit:
            reservoir.append((index, item))
        else:
            slot = rng.randrange(index + 1)
            if slot < limit:
                reservoir[slot] = (index, item)
    return [item for _, item in sorted(reservoir)]


def test_limit_picks_exactly_what_it_picked_before(dataset_path: Path):
    dataset = open_dataset(str(dataset_path))
    ids = [s.id for s in dataset]
    for seed in (0, 7, 123):
        assert [s.id for s in dataset.select(limit=17, seed=seed)] == _old_reservoir(ids, 17, seed)


def test_no_limit_streams_everything(dataset_path: Path):
    dataset = open_dataset(str(dataset_path))
    assert [s.id for s in dataset.select()] == [s.id for s in dataset]


def test_per_hazard_takes_n_from_each_stratum_in_file_order(dataset_path: Path):
    dataset = open_dataset(str(dataset_path))
    picked = list(dataset.select(per_hazard=8, seed=1))
    assert Counter(s.hazard for s in picked) == {"vcr": 8, "ncr": 8, "hte": 5, "benign": 8}  # hte has only 5
    assert [int(s.id) for s in picked] == sorted(int(s.id) for s in picked)
    assert [s.id for s in picked] == [s.id for s in dataset.select(per_hazard=8, seed=1)]
    assert [s.id for s in picked] != [s.id for s in dataset.select(per_hazard=8, seed=2)]


def test_per_hazard_is_uniform_within_a_stratum():
    items = [("a", i) for i in range(40)] + [("b", i) for i in range(40)]
    hits = Counter(item for seed in range(2000)
                   for item in select_items(items, key=lambda pair: pair[0], per_hazard=4, seed=seed))
    counts = [hits[("a", i)] for i in range(40)]
    assert min(counts) > 120 and max(counts) < 280  # expected 2000 * 4 / 40 = 200 each


def test_strata_are_independent(dataset_path: Path, tmp_path: Path):
    """Adding rows of one hazard does not change the picks of another."""
    dataset = open_dataset(str(dataset_path))
    before = [s.id for s in dataset.select(per_hazard=4, seed=5) if s.hazard == "vcr"]
    rows = [s.model_dump(include={"id", "hazard"}) | {"prompt": s.prompt} for s in dataset]
    rows += [{"id": f"x{i}", "prompt": "extra", "hazard": "ncr"} for i in range(20)]
    grown = open_dataset(str(write_jsonl(tmp_path / "grown.jsonl", rows)))
    assert [s.id for s in grown.select(per_hazard=4, seed=5) if s.hazard == "vcr"] == before


def test_limit_and_per_hazard_together(dataset_path: Path):
    dataset = open_dataset(str(dataset_path))
    stratified = [s.id for s in dataset.select(per_hazard=8, seed=1)]
    capped = [s.id for s in dataset.select(per_hazard=8, limit=10, seed=1)]
    assert len(capped) == 10 and set(capped) <= set(stratified)
    assert [int(i) for i in capped] == sorted(int(i) for i in capped)


def test_planned_count_matches_what_select_yields(dataset_path: Path):
    dataset = open_dataset(str(dataset_path))
    counts = Counter(s.hazard for s in dataset)
    for limit, per_hazard in [(None, None), (10, None), (None, 8), (10, 8), (500, None), (None, 100)]:
        expected = sum(1 for _ in dataset.select(limit=limit, per_hazard=per_hazard, seed=0))
        assert planned_count(counts, limit=limit, per_hazard=per_hazard) == expected


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"per_hazard": 0}, {"per_hazard": -1}])
def test_bad_sizes_are_usage_errors(dataset_path: Path, kwargs: dict[str, int]):
    with pytest.raises(UsageError):
        list(open_dataset(str(dataset_path)).select(**kwargs))
