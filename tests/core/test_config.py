from pathlib import Path

import pytest

from safetyscope.core.config import load_spec_file, resolve_spec
from safetyscope.core.errors import UsageError


def test_defaults_evaluate_embedded_model_on_starter():
    spec = resolve_spec(environ={})
    assert spec.target == "embedded/smollm2-135m"
    assert spec.dataset == "starter"
    assert spec.attacks == ("none",)
    assert spec.judge == "refusal"


def test_precedence_defaults_file_env_flags(tmp_path: Path):
    spec_file = tmp_path / "run.yaml"
    spec_file.write_text("target: openai/m\nlimit: 5\nstore: from-file.sqlite\ngeneration:\n  temperature: 0.7\n")
    spec = resolve_spec(file_values=load_spec_file(spec_file),
                        overrides={"limit": 9, "generation": {"max_tokens": 33}, "dataset": None},
                        environ={"SAFETYSCOPE_STORE": "from-env.sqlite"})
    assert spec.target == "openai/m"  # file beats default
    assert spec.store == "from-env.sqlite"  # environment beats file
    assert spec.limit == 9  # flag beats file
    assert spec.generation.temperature == 0.7 and spec.generation.max_tokens == 33  # merged field by field
    assert spec.dataset == "starter"  # None flags are ignored


def test_attack_list_accepts_comma_string():
    assert resolve_spec(overrides={"attacks": "none, none"}, environ={}).attacks == ("none", "none")


@pytest.mark.parametrize("text, message", [
    ("targett: x\n", "targett"),
    ("limit: -3\n", "limit"),
    ("- a\n- b\n", "mapping"),
    ("target: [unclosed\n", "not valid YAML"),
])
def test_bad_spec_files_name_the_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        resolve_spec(file_values=load_spec_file(path), source=str(path), environ={})


def test_base_url_folds_into_target_options():
    spec = resolve_spec(overrides={"base_url": "http://127.0.0.1:9/v1", "api_key_env": "K"}, environ={})
    assert spec.resolved_target_options() == {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "K"}
