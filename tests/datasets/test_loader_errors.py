"""A file that does not match its format: a DatasetError naming the file, the line (or record), the expected
columns and the missing ones."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from safetyscope.core.errors import DatasetError
from safetyscope.datasets import open_dataset, open_labelled_set


def _error(name: str, path: Path, *, labelled: bool = False) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        (open_labelled_set if labelled else open_dataset)(name, path=path).validate()
    return info.value


def test_csv_header_without_the_format_columns(tmp_path: Path):
    path = tmp_path / "xstest_prompts.csv"
    path.write_text("id,prompt,type\n1,hello,homonyms\n", encoding="utf-8")
    error = _error("xstest", path)
    assert error.path == path and error.line == 1
    message = str(error)
    assert "XSTest prompts CSV" in message
    assert "expected columns id, prompt, type, label, focus, note" in message
    assert "missing label, focus, note" in message


def test_our_schema_file_given_to_a_benchmark_loader(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("id,prompt,hazard\n1,hi,benign\n", encoding="utf-8")
    message = str(_error("simplesafetytests", path))
    assert "mine.csv, line 1" in message and "missing harm_area, counter, category, prompts_final" in message


def test_bad_value_names_line_and_field(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text('id,prompt,type,label,focus,note\n1,"a\nmultiline prompt",homonyms,safe,kill,\n'
                    "2,b,homonyms,maybe,kill,\n", encoding="utf-8")
    error = _error("xstest", path)
    assert error.line == 4 and error.field == "label" and "'maybe' is not one of safe, unsafe" in str(error)


def test_unknown_category_names_the_taxonomy_and_known_codes(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text("category,source,forbidden_prompt\nViolence,custom,p1\nAstrology,custom,p2\n", encoding="utf-8")
    error = _error("strongreject", path)
    assert error.line == 3 and error.field == "category"
    assert "unknown strongreject category 'Astrology'" in str(error) and "violence (Violence)" in str(error)


def test_blank_prompt_is_an_error(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text('goal,target\n"   ",Sure\n', encoding="utf-8")
    error = _error("advbench", path)
    assert error.line == 2 and error.field == "goal" and "blank" in str(error)


def test_json_array_record_missing_fields(tmp_path: Path):
    path = tmp_path / "mitre_frr.json"
    path.write_text(json.dumps([{"mutated_prompt": "p", "is_malicious": "False"}, {"prompt": "q"}]), encoding="utf-8")
    error = _error("cyberseceval-frr", path)
    assert error.path == path and "record 1" in str(error)
    assert "expected columns mutated_prompt, is_malicious; missing mutated_prompt, is_malicious" in str(error)


def test_json_where_an_array_is_expected(tmp_path: Path):
    path = tmp_path / "prompt.json"
    path.write_text('{"pid": 1}', encoding="utf-8")
    assert "expected a JSON array of objects, got dict" in str(_error("rmcbench", path))


def _seval_zip(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "S-Eval_base_risk_en_small.jsonl.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("S-Eval_base_risk_en_small.jsonl", "\n".join(lines) + "\n")
        archive.writestr("__MACOSX/._S-Eval_base_risk_en_small.jsonl", "resource fork")
    return path


def test_s_eval_zip_errors_name_the_member_and_line(tmp_path: Path):
    good = json.dumps({"traceid": "t1", "risk_type": "Hate_Speech", "prompt": "p", "ext": '{"model": "base_risk"}'})
    path = _seval_zip(tmp_path, [good, json.dumps({"traceid": "t2", "risk_type": "Hate_Speech", "prompt": "p"})])
    error = _error("s-eval", path)
    assert str(error.path) == f"{path}!S-Eval_base_risk_en_small.jsonl" and error.line == 2
    assert "missing ext" in str(error)
    bad_ext = json.dumps({"traceid": "t2", "risk_type": "Hate_Speech", "prompt": "p", "ext": "{not json"})
    error = _error("s-eval", _seval_zip(tmp_path, [good, bad_ext]))
    assert error.line == 2 and error.field == "ext" and "JSON object encoded as a string" in str(error)
    assert [s.id for s in open_dataset("s-eval", path=_seval_zip(tmp_path, [good]))] == ["t1"]


def test_duplicate_ids_are_rejected(tmp_path: Path):
    path = tmp_path / "b.csv"
    path.write_text(",Goal,Target,Behavior,Category,Source\n0,g,t,b,Privacy,Original\n0,g2,t,b2,Privacy,Original\n",
                    encoding="utf-8")
    error = _error("jailbreakbench", path)
    assert error.line == 3 and error.field == "id" and "duplicate id '0'" in str(error)


def test_empty_benchmark_file(tmp_path: Path):
    path = tmp_path / "harmful_behaviors.csv"
    path.write_text("goal,target\n", encoding="utf-8")
    assert "empty" in str(_error("advbench", path))


def test_labelled_set_bad_label(tmp_path: Path):
    path = tmp_path / "xstest_v2_completions_m.csv"
    path.write_text("id,type,prompt,completion,annotation_1,annotation_2,agreement,final_label\n"
                    "v2-1,homonyms,p,c,1_full_compliance,1_full_compliance,TRUE,4_other\n", encoding="utf-8")
    error = _error("xstest-completions", path, labelled=True)
    assert error.line == 2 and error.field == "final_label" and "'4_other' is not one of" in str(error)


def test_not_utf8(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"category,source,forbidden_prompt\nViolence,custom,\xff\xfe\n")
    error = _error("strongreject", path)
    assert error.line == 2 and "not valid UTF-8" in str(error)
