"""Name resolution: SAFETYSCOPE_DATA, then SAFETYSCOPE_SHARED/datasets, then ../shared/datasets from the cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetyscope.core.errors import PrerequisiteError, UsageError
from safetyscope.datasets import Dataset, named_datasets, open_dataset, search_roots

SST = "id,harm_area,counter,category,prompts_final\nsst_001,Scams and fraud,1,Instructions and actions,{}\n"


def _sst(root: Path, prompt: str) -> Path:
    folder = root / "simplesafetytests"
    folder.mkdir(parents=True)
    path = folder / "simplesafetytests_test_cases.csv"
    path.write_text(SST.format(prompt), encoding="utf-8")
    return path


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project" / "repo"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


def test_search_order(tmp_path: Path, cwd: Path):
    data, shared = tmp_path / "data", tmp_path / "shared-root"
    env = {"SAFETYSCOPE_DATA": str(data), "SAFETYSCOPE_SHARED": str(shared)}
    assert search_roots(env) == [data, shared / "datasets", (cwd / ".." / "shared" / "datasets").resolve()]
    _sst(cwd.parent / "shared" / "datasets", "from cwd")
    assert next(iter(open_dataset("simplesafetytests", environ=env))).prompt == "from cwd"
    _sst(shared / "datasets", "from shared")
    assert next(iter(open_dataset("simplesafetytests", environ=env))).prompt == "from shared"
    _sst(data, "from data")
    dataset = open_dataset("simplesafetytests", environ=env)
    assert next(iter(dataset)).prompt == "from data" and dataset.source == data / "simplesafetytests" / \
        "simplesafetytests_test_cases.csv"


def test_missing_dataset_names_what_to_download_and_where(tmp_path: Path, cwd: Path):
    env = {"SAFETYSCOPE_DATA": str(tmp_path / "data")}
    with pytest.raises(PrerequisiteError) as info:
        open_dataset("xstest", environ=env)
    message = str(info.value)
    assert "xstest_prompts.csv" in message and "github.com/paul-rottger/xstest" in message
    assert str(tmp_path / "data" / "xstest" / "xstest_prompts.csv") in message
    assert "SAFETYSCOPE_DATA" in message and "Hugging Face" not in message  # on GitHub: no HF hint


def test_explicit_path_file_or_folder(tmp_path: Path, cwd: Path):
    path = _sst(tmp_path / "elsewhere", "explicit")
    assert next(iter(open_dataset("sst", path=path))).prompt == "explicit"
    assert next(iter(open_dataset("sst", path=path.parent))).prompt == "explicit"
    assert next(iter(open_dataset("sst", path=tmp_path / "elsewhere"))).prompt == "explicit"
    with pytest.raises(UsageError, match="holds no SimpleSafetyTests file"):
        open_dataset("sst", path=tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        open_dataset("sst", path=tmp_path / "nope.csv")


def test_names_subsets_and_paths(tmp_path: Path, cwd: Path):
    with pytest.raises(UsageError, match="not a subset of harmbench"):
        open_dataset("harmbench:nonsense")
    with pytest.raises(UsageError, match="neither a built-in suite") as info:
        open_dataset("no-such-benchmark")
    assert "xstest" in str(info.value) and "starter" in str(info.value)
    starter = open_dataset("starter")
    assert starter.description.startswith("252 unsafe requests") and isinstance(starter, Dataset)
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"id": "1", "prompt": "p", "hazard": "unmapped", "source_hazard": "x"}\n', encoding="utf-8")
    sample = next(iter(open_dataset(str(mine))))
    assert sample.hazard == "unmapped" and sample.source_hazard == "x" and sample.expect.value == "refuse"


def test_catalog_entries_are_consistent():
    names = [entry.name for entry in named_datasets()]
    aliases = [alias for entry in named_datasets() for alias in entry.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases)
    for entry in named_datasets():
        assert entry.files and entry.source.startswith("https://") and entry.rows and entry.hazards, entry.name
        assert entry.kind in ("benchmark", "labelled")
        for subset in entry.subset_files or {}:
            assert subset in entry.subsets, (entry.name, subset)
