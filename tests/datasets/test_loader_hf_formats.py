"""Formats published only on Hugging Face (or only as downloads), tested on small fixtures written in their
documented schemas (tests/datasets/fixtures/<folder>/…), plus the optional Hugging Face fetch path."""

from __future__ import annotations

import gzip
import shutil
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from safetyscope.core.errors import PrerequisiteError
from safetyscope.core.records import Expectation
from safetyscope.datasets import UNMAPPED, LabelKind, open_dataset, open_labelled_set
from safetyscope.datasets import named as named_module
from safetyscope.taxonomy import TaxonomyCatalog

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The fixtures as SAFETYSCOPE_DATA; SAFETYSCOPE_SHARED points nowhere, so nothing else is found."""
    return {"SAFETYSCOPE_DATA": str(FIXTURES), "SAFETYSCOPE_SHARED": str(tmp_path / "no-shared")}


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A search path with nothing on it (and a working directory with no ../shared)."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return {"SAFETYSCOPE_DATA": str(tmp_path / "empty")}


def test_sorry_bench_base_and_a_translated_style(env: dict[str, str]):
    samples = list(open_dataset("sorry-bench", environ=env))
    assert [s.id for s in samples] == ["1", "61", "121", "391", "431"]
    assert [s.hazard for s in samples] == [UNMAPPED, "vcr", "ncr", "spc", "spc"]
    assert samples[0].source_hazard == "1" and "out of scope" in samples[0].metadata["unmapped_reason"]
    assert all(s.expect == Expectation.REFUSE for s in samples)  # out-of-scope categories still expect refusal
    assert samples[1].metadata == {"prompt_style": "base", "source_taxonomy": "sorry-bench",
                                   "canonical_hazards": ["vcr"]}
    french = list(open_dataset("sorry-bench:translate-fr", environ=env))
    assert [s.id for s in french] == ["61-translate-fr", "391-translate-fr"]
    assert {s.language for s in french} == {"fr"} and french[0].hazard == "vcr"


def test_sorry_bench_first_release_uses_its_own_crosswalk(env: dict[str, str], tmp_path: Path):
    folder = tmp_path / "sorry-bench-2406"
    folder.mkdir()
    shutil.copy(FIXTURES / "sorry-bench" / "question.jsonl", folder / "question.jsonl")
    samples = list(open_dataset("sorry-bench-2406", environ={"SAFETYSCOPE_DATA": str(tmp_path)}))
    catalog = TaxonomyCatalog()
    # The first release inserts 12 Impersonation, so category 13 there is 12 in the 2025 release.
    assert catalog.load("sorry-bench-2406").get("13").name == catalog.load("sorry-bench").get("12").name
    assert samples[2].metadata["source_taxonomy"] == "sorry-bench-2406"
    assert samples[2].metadata["canonical_hazards"] == list(catalog.to_canonical("sorry-bench-2406", "13"))


def test_ailuminate_demo_csv(env: dict[str, str]):
    samples = list(open_dataset("ailuminate", environ=env))
    assert [s.hazard for s in samples] == ["vcr", "spc", "spc", "sxc", "dfm"]
    assert [s.source_hazard for s in samples] == ["vcr", "spc_hlt", "spc_ele", "sxc_prn", "dfm"]
    assert [s.language for s in samples] == ["en-US"] * 4 + ["fr-FR"]
    assert samples[1].metadata["persona"] == "unskilled" and samples[1].metadata["prompt_hash"] == "a2"
    assert samples[0].id == "airr_practice_1_0_00001"


def test_aegis_2_labels_categories_and_redactions(env: dict[str, str]):
    samples = {s.id: s for s in open_dataset("aegis-2.0", environ=env)}
    assert "a4" not in samples  # REDACTED prompt skipped
    assert samples["a1"].hazard == "vcr" and samples["a1"].metadata["canonical_hazards"] == ["vcr", "ncr"]
    assert samples["a1"].source_hazard == "Violence, Threat" and samples["a1"].metadata["response_label"] == "safe"
    assert samples["a2"].hazard == "benign" and samples["a2"].expect == Expectation.COMPLY
    assert samples["a3"].hazard == UNMAPPED and samples["a3"].expect == Expectation.REFUSE
    assert samples["a5"].hazard == "ipv" and samples["a5"].metadata["unmapped_categories"] == ["Unheard Of Category"]
    assert samples["a6"].hazard == "cse"  # Sexual + Sexual (minor): the first in canonical order


def test_openai_moderation_labels_plain_and_gzipped(env: dict[str, str], tmp_path: Path):
    plain = list(open_dataset("openai-moderation", environ=env))
    folder = tmp_path / "openai-moderation" / "data"
    folder.mkdir(parents=True)
    with gzip.open(folder / "samples-1680.jsonl.gz", "wb") as handle:
        handle.write((FIXTURES / "openai-moderation" / "samples-1680.jsonl").read_bytes())
    zipped = list(open_dataset("openai-moderation", environ={"SAFETYSCOPE_DATA": str(tmp_path)}))
    assert [s.model_dump() for s in plain] == [s.model_dump() for s in zipped]
    assert [s.hazard for s in plain] == ["sxc", "cse", "benign", "hte"]
    assert plain[3].metadata["canonical_hazards"] == ["hte", "vcr"]  # H (hte) + H2 (hte, vcr): primaries first
    assert plain[1].source_hazard == "S, S3" and plain[1].metadata["canonical_hazards"] == ["cse", "sxc"]
    assert plain[3].metadata["unknown_labels"] == ["S", "HR", "SH", "S3", "V2"]
    assert plain[2].expect == Expectation.COMPLY and plain[2].metadata["labels"]["S"] == 0


def test_toxicchat(env: dict[str, str]):
    samples = list(open_dataset("toxicchat", environ=env))
    assert [s.id for s in samples] == ["c1", "c2", "c3"]
    assert [s.hazard for s in samples] == ["benign", UNMAPPED, "benign"]
    assert samples[1].expect == Expectation.REFUSE and samples[1].metadata["jailbreaking"] is True
    assert samples[1].prompt.endswith("line one\nline two")
    assert samples[0].metadata["openai_moderation"].startswith('[["sexual"')


def test_jailbreakbench_benign_behaviours(env: dict[str, str]):
    samples = list(open_dataset("jailbreakbench:benign", environ=env))
    assert [s.id for s in samples] == ["1", "2"]
    assert {s.hazard for s in samples} == {"benign"} and samples[0].source_hazard == "Physical harm"


def test_beavertails_is_a_labelled_set(env: dict[str, str]):
    items = list(open_labelled_set("beavertails", environ=env))
    assert [item.human_label for item in items] == ["unsafe", "safe", "unsafe", "unsafe"]
    assert all(item.label_kind == LabelKind.HARMFULNESS for item in items)
    assert [item.sample.hazard for item in items] == ["ncr", UNMAPPED, UNMAPPED, "vcr"]
    assert items[3].annotations["category"] == ["self_harm", "violence,aiding_and_abetting,incitement"]
    assert items[3].sample.metadata["canonical_hazards"] == ["vcr", "ssh", "ncr"]
    assert "out of scope" in items[2].sample.metadata["unmapped_reason"]


def test_missing_hf_dataset_says_what_to_download_and_how_to_fetch(nowhere: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(named_module, "hf_available", lambda: False)
    with pytest.raises(PrerequisiteError) as info:
        open_dataset("toxicchat", environ=nowhere)
    message = str(info.value)
    assert "toxic-chat_annotation_test.csv" in message and "huggingface.co/datasets/lmsys/toxic-chat" in message
    assert "pip install 'safetyscope[hf]'" in message and "toxicchat" in message


class _FakeHub:
    """Stands in for the `datasets` library: records the call and returns rows."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.calls: list[tuple[Any, ...]] = []

    def load_dataset(self, repo: str, config: str | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((repo, config, kwargs))
        return self.rows


def test_hf_only_dataset_is_fetched_with_the_optional_library(nowhere: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch):
    hub = _FakeHub([{"prompt": "p", "response": "r", "is_safe": False,
                     "category": {"self_harm": True, "animal_abuse": False}}])
    fake = types.ModuleType("datasets")
    fake.load_dataset = hub.load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.setattr(named_module, "hf_available", lambda: True)
    labelled = open_labelled_set("beavertails:330k_test", environ=nowhere)
    items = list(labelled)
    assert hub.calls == [("PKU-Alignment/BeaverTails", None, {"split": "330k_test"})]
    assert items[0].sample.hazard == "ssh" and items[0].human_label == "unsafe" and labelled.source is None


def test_hf_fetch_failure_is_a_prerequisite_error(nowhere: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    def offline(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("no network")

    fake = types.ModuleType("datasets")
    fake.load_dataset = offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.setattr(named_module, "hf_available", lambda: True)
    dataset = open_dataset("aegis-2.0", environ=nowhere)
    with pytest.raises(PrerequisiteError, match=r"could not fetch nvidia/Aegis-AI-Content-Safety-Dataset-2\.0"):
        dataset.validate()


def test_fixture_strata_for_per_hazard(env: dict[str, str]):
    dataset = open_dataset("sorry-bench", environ=env)
    assert Counter(s.hazard for s in dataset.select(per_hazard=1, seed=0)) == {UNMAPPED: 1, "vcr": 1, "ncr": 1,
                                                                               "spc": 1}
