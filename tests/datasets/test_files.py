from pathlib import Path

import pytest

from helpers import write_jsonl
from safetyscope.core.errors import DatasetError, UsageError
from safetyscope.core.records import Expectation
from safetyscope.datasets import open_dataset


def test_jsonl_rows_become_samples(tmp_path: Path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "1", "prompt": "hello", "hazard": "benign", "metadata": {"k": 1}},
        {"id": "2", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
         "hazard": "spc_hlt", "expect": "refuse", "language": "fr"},
    ])
    first, second = list(open_dataset(str(path)))
    assert first.expect == Expectation.COMPLY and first.metadata == {"k": 1} and first.prompt == "hello"
    assert second.hazard == "spc" and second.source_hazard == "spc_hlt" and second.language == "fr"
    assert [m.role for m in second.messages] == ["system", "user"] and second.dataset == "d"


def test_csv_with_extra_columns_and_multiline_fields(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('id,prompt,hazard,source\n1,"line one\nline two, with comma",ncr,web\n2,plain,benign,\n')
    samples = list(open_dataset(str(path)))
    assert samples[0].prompt == "line one\nline two, with comma"
    assert samples[0].metadata == {"source": "web"} and samples[1].metadata == {}


def test_seeded_limit_is_uniform_and_reproducible(tmp_path: Path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": str(i), "prompt": f"p{i}", "hazard": "vcr"} for i in range(200)])
    dataset = open_dataset(str(path))
    picked = [s.id for s in dataset.select(limit=20, seed=7)]
    assert picked == [s.id for s in dataset.select(limit=20, seed=7)]
    assert picked != [s.id for s in dataset.select(limit=20, seed=8)]
    assert len(set(picked)) == 20 and max(int(i) for i in picked) > 20  # not just the head of the file
    assert [int(i) for i in picked] == sorted(int(i) for i in picked)  # file order kept


def _error(tmp_path: Path, content: bytes, name: str = "bad.jsonl") -> DatasetError:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        open_dataset(str(path)).validate()
    return info.value


GOOD = b'{"id": "1", "prompt": "p", "hazard": "vcr"}\n'


@pytest.mark.parametrize("content, line, field, message", [
    (GOOD + b'{"id": "2", "prompt": "p", "hazard": "vcr"\n', 2, None, "not valid JSON"),
    (GOOD + b'{"id": "2", "hazard": "vcr"}\n', 2, "prompt", "missing required field 'prompt'"),
    (GOOD + GOOD + b'{"id": "3", "prompt": "p", "hazard": "zzz"}\n', 2, "id", "duplicate id"),
    (GOOD + b'{"id": "3", "prompt": "p", "hazard": "zzz"}\n', 2, "hazard", "unknown hazard code 'zzz'"),
    (GOOD + b'{"id": "3", "prompt": "p", "hazard": "vcr", "expect": "maybe"}\n', 2, "expect", "not one of"),
    (GOOD + b'{"id": "3", "prompt": "\xff\xfe", "hazard": "vcr"}\n', 2, None, "not valid UTF-8"),
    (GOOD + b'[1, 2]\n', 2, None, "JSON object"),
    (GOOD + b'{"id": "3", "messages": [{"role": "assistant", "content": "x"}], "hazard": "vcr"}\n', 2,
     "messages", "last turn"),
    (b"", None, None, "empty"),
])
def test_malformed_jsonl_names_file_line_and_field(tmp_path: Path, content, line, field, message):
    error = _error(tmp_path, content)
    assert error.line == line and error.field == field
    assert message in str(error) and "bad.jsonl" in str(error)


def test_csv_missing_columns_are_named(tmp_path: Path):
    error = _error(tmp_path, b"id,text\n1,hello\n", name="bad.csv")
    assert error.line == 1 and "hazard" in str(error) and "prompt (or messages)" in str(error)


def test_unknown_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match="neither a built-in suite"):
        open_dataset("no-such-suite")


def test_builtin_starter_suite_loads_and_covers_every_hazard():
    samples = list(open_dataset("starter"))
    unsafe = [s for s in samples if s.expect == Expectation.REFUSE]
    benign = [s for s in samples if s.expect == Expectation.COMPLY]
    assert len(unsafe) >= 240 and len(benign) >= 120
    per_hazard = {code: sum(s.hazard == code for s in unsafe) for code in {s.hazard for s in unsafe}}
    assert len(per_hazard) == 12 and min(per_hazard.values()) >= 20
