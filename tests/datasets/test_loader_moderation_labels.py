"""OpenAI-moderation and Aegis 2.0 files as labelled judge sets (fixtures in tests/datasets/fixtures), by name and
by path, and the errors for files without labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cli, write_jsonl
from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.core.records import VerdictLabel
from safetyscope.datasets import LabelKind, open_labelled_set

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODERATION = FIXTURES / "openai-moderation" / "samples-1680.jsonl"
AEGIS = FIXTURES / "aegis-2.0" / "test.json"


def test_moderation_labels_flagged_is_unsafe_and_the_text_is_the_response_by_default():
    items = list(open_labelled_set("openai-moderation-labels", path=MODERATION))
    assert [item.human_label for item in items] == ["unsafe", "unsafe", "safe", "unsafe"]
    assert all(item.label_kind == LabelKind.HARMFULNESS and item.side == "response" for item in items)
    first = items[0]
    assert first.response == "Placeholder text with a sexual theme." and first.sample.prompt == ""
    assert first.annotations["flagged"] == ["S"] and first.sample.hazard == "sxc"
    assert "labels" not in first.sample.metadata  # a judge cannot read the label off the sample
    partial = items[3]  # {"H": 1, "H2": 1, "V": 0}: the missing keys are unknown, one positive is enough
    assert partial.verdict == VerdictLabel.UNSAFE
    assert partial.annotations["unknown_labels"] == ["S", "HR", "SH", "S3", "V2"]


def test_moderation_labels_prompt_side():
    items = list(open_labelled_set("moderation-labels:prompt", path=MODERATION))
    assert all(item.side == "prompt" and item.response == "" for item in items)
    assert items[2].sample.prompt == "A friendly message about gardening." and items[2].human_label == "safe"


def test_a_moderation_row_without_any_label_names_the_label_columns(tmp_path: Path):
    bad = write_jsonl(tmp_path / "m.jsonl", [{"prompt": "a", "S": 0}, {"prompt": "no labels here"}])
    with pytest.raises(DatasetError, match=r"line 2: no label: .* columns S, H, V, HR, SH, S3, H2, V2"):
        open_labelled_set("openai-moderation-labels", path=bad).validate()


def test_aegis_response_side_uses_response_label_and_skips_prompt_only_rows():
    items = list(open_labelled_set("aegis-2.0-labels", path=AEGIS))
    assert [(item.id, item.human_label, item.side) for item in items] == [("a1", "safe", "response")]
    only = items[0]
    assert only.response == "I can't help with that." and only.sample.prompt.startswith("Placeholder: how do I")
    assert only.annotations == {"label_source": "human"} and only.metadata["prompt_label"] == "unsafe"
    assert not {"response", "response_label", "prompt_label"} & set(only.sample.metadata)


def test_aegis_prompt_side_uses_prompt_label_and_skips_redacted_prompts():
    items = list(open_labelled_set("aegis-2.0-labels:prompt", path=AEGIS))
    assert [(item.id, item.human_label) for item in items] == [
        ("a1", "unsafe"), ("a2", "safe"), ("a3", "unsafe"), ("a5", "unsafe"), ("a6", "unsafe")]
    assert items[1].response == "" and items[0].response == "I can't help with that."
    assert items[2].annotations == {"label_source": "llm_jury"} and items[2].sample.hazard == "unmapped"
    assert items[4].sample.hazard == "cse"


def test_aegis_split_after_the_side(tmp_path: Path):
    folder = tmp_path / "aegis-2.0"
    folder.mkdir()
    (folder / "train.json").write_text(AEGIS.read_text(encoding="utf-8"), encoding="utf-8")
    items = list(open_labelled_set("aegis-2.0-labels:prompt/train", path=folder))
    assert len(items) == 5
    with pytest.raises(UsageError, match="holds no"):
        open_labelled_set("aegis-2.0-labels:prompt", path=folder)  # the default split is test


def test_aegis_file_without_response_labels_names_the_column(tmp_path: Path):
    rows = [{"id": "1", "prompt": "p", "prompt_label": "safe"}, {"id": "2", "prompt": "q", "prompt_label": "unsafe"}]
    bad = write_jsonl(tmp_path / "test.jsonl", rows)
    with pytest.raises(DatasetError, match="no row has a 'response_label'") as caught:
        open_labelled_set("aegis-2.0-labels", path=bad).validate()
    assert caught.value.field == "response_label"
    assert len(list(open_labelled_set("aegis-2.0-labels:prompt", path=bad))) == 2


def test_aegis_bad_response_rows(tmp_path: Path):
    no_text = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "prompt": "p", "prompt_label": "safe",
                                                   "response": None, "response_label": "safe"}])
    with pytest.raises(DatasetError, match="line 1, field 'response': the row has a response_label but no"):
        open_labelled_set("aegis-2.0-labels", path=no_text).validate()
    odd = write_jsonl(tmp_path / "b.jsonl", [{"id": "1", "prompt": "p", "prompt_label": "safe",
                                               "response": "r", "response_label": "maybe"}])
    with pytest.raises(DatasetError, match="field 'response_label': 'maybe' is not one of safe, unsafe"):
        open_labelled_set("aegis-2.0-labels", path=odd).validate()


@pytest.mark.parametrize(("spec", "name", "side", "count"), [
    (f"{MODERATION}", "openai-moderation-labels", "response", 4),
    (f"{MODERATION}:prompt", "openai-moderation-labels:prompt", "prompt", 4),
    (f"{AEGIS}", "aegis-2.0-labels", "response", 1),
    (f"{AEGIS}:prompt", "aegis-2.0-labels:prompt", "prompt", 5),
])
def test_a_path_is_told_apart_by_its_label_columns(spec: str, name: str, side: str, count: int):
    labelled = open_labelled_set(spec)
    assert labelled.name == name and labelled.validate() == count
    assert {item.side for item in labelled} == {side}


def test_a_path_without_label_columns_names_them(tmp_path: Path):
    bad = write_jsonl(tmp_path / "texts.jsonl", [{"prompt": "hello", "response": "hi"}])
    with pytest.raises(DatasetError, match=r"line 1: no label column: .*prompt_label or response_label "
                                           r"\(Aegis 2.0\).*is_safe \(BeaverTails\); its columns are prompt, "
                                           "response"):
        open_labelled_set(str(bad))
    with pytest.raises(UsageError, match="one side only"):
        open_labelled_set(f"{FIXTURES / 'beavertails' / '30k_test.jsonl'}:prompt")


def test_judge_eval_on_a_moderation_file_and_on_an_unlabelled_one(tmp_path: Path):
    out = tmp_path / "o"
    ran = cli("judge", "eval", "--judge", "harm", "--labels", str(MODERATION), "--output-dir", str(out),
              "--store", str(tmp_path / "s.sqlite"))
    assert ran.returncode == 0, ran.stderr
    report = json.loads(next(out.glob("judge-eval-*.json")).read_text())
    assert report["agreement"]["n"] == 4 and report["label_kind"] == "harmfulness"
    matrix = report["agreement"]["confusion"]
    assert sum(matrix[key] for key in ("tp", "fp", "fn", "tn")) + report["agreement"]["n_unscored"] == 4
    bad = write_jsonl(tmp_path / "texts.jsonl", [{"prompt": "hello"}])
    failed = cli("judge", "eval", "--labels", str(bad), "--output-dir", str(out))
    assert failed.returncode == 2 and "no label column" in failed.stderr and "prompt_label" in failed.stderr


def test_a_prompt_side_validation_is_stored_but_never_corrects_a_run(tmp_path: Path):
    from safetyscope.core.hashing import content_hash
    from safetyscope.judges import create_judge
    from safetyscope.judges.validation import POSITIVE_MEANING, PROMPT_POSITIVE_MEANING
    from safetyscope.runner.store import Store

    out, store_path = tmp_path / "o", tmp_path / "s.sqlite"
    ran = cli("judge", "eval", "--judge", "prompt-harm", "--labels", f"{AEGIS}:prompt", "--output-dir", str(out),
              "--store", str(store_path))
    assert ran.returncode == 0, ran.stderr
    report = json.loads(next(out.glob("judge-eval-*.json")).read_text())
    assert report["side"] == "prompt" and report["positive"] == PROMPT_POSITIVE_MEANING
    judge_key = content_hash(create_judge("prompt-harm", {"prompt_only": True}).spec)  # set for prompt-side labels
    store = Store.open(str(store_path))
    try:
        stored = store.latest_validation(judge_key)
        assert stored is not None and stored.positive == PROMPT_POSITIVE_MEANING
        assert store.latest_validation(judge_key, positive=POSITIVE_MEANING) is None  # what scorecard_for asks
    finally:
        store.close()


def test_judge_eval_points_prompt_judges_at_the_prompt_on_prompt_side_labels(tmp_path: Path):
    out = tmp_path / "o"
    ran = cli("judge", "eval", "--judge", "prompt-harm", "--labels", f"{MODERATION}:prompt", "--output-dir", str(out),
              "--store", str(tmp_path / "s.sqlite"))
    assert ran.returncode == 0, ran.stderr
    report = json.loads(next(out.glob("judge-eval-*.json")).read_text())
    assert report["judge_options"] == {"prompt_only": True} and report["in_sample"] is False
    assert report["agreement"]["n_unscored"] == 0 and report["agreement"]["n"] == 4  # every prompt judged


def test_judge_eval_warns_when_the_judge_trained_on_the_labels(shared: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SAFETYSCOPE_SHARED", str(shared))
    out = tmp_path / "o"
    ran = cli("judge", "eval", "--judge", "harm", "--labels", "harmbench-val", "--limit", "40", "--output-dir",
              str(out), "--store", str(tmp_path / "s.sqlite"))
    assert ran.returncode == 0, ran.stderr
    assert "in-sample" in " ".join(ran.stdout.split())
    assert json.loads(next(out.glob("judge-eval-*.json")).read_text())["in_sample"] is True
