"""The shared model-judge machinery: placeholder filling, log-probability reading, send modes, retries."""

from __future__ import annotations

import math

import pytest

from judge_stubs import chat_reply
from safetyscope.core.errors import UsageError
from safetyscope.core.records import VerdictLabel
from safetyscope.core.text import fill
from safetyscope.judges import create_judge, judges
from safetyscope.judges.logprobs import parse_logprobs_reply
from safetyscope.judges.model import DEFAULT_JUDGE_TARGET, ModelJudge, TokenLogprob, binary_probability

MODEL_JUDGES = ["aegis-1.0", "granite-guardian", "harmbench", "llama-guard-1", "llama-guard-2", "llama-guard-3",
                "llama-guard-4", "nemoguard", "rubric", "shieldgemma", "sorry-bench", "strongreject", "wildguard"]


def test_fill_is_single_pass_and_leaves_other_braces():
    template = '{"User Safety": x} {prompt} / {response} / {unknown}'
    assert fill(template, prompt="{response}", response="R") == '{"User Safety": x} {response} / R / {unknown}'


def test_binary_probability_reads_the_first_non_whitespace_token():
    tokens = (TokenLogprob("\n\n", -0.01, (("\n\n", -0.01),)),
              TokenLogprob("un", -0.3, (("un", -0.3), ("safe", -1.5), ("The", -4.0))),
              TokenLogprob("safe", -0.01))
    expected = math.exp(-0.3) / (math.exp(-0.3) + math.exp(-1.5))
    assert binary_probability(tokens, "unsafe", "safe") == pytest.approx(expected, abs=1e-6)
    only_yes = (TokenLogprob(" Yes", -0.01, ((" Yes", -0.01), ("Sure", -5.0))),)
    assert binary_probability(only_yes, "yes", "no") == 1.0
    assert binary_probability((TokenLogprob("Hmm", -0.1, (("Hmm", -0.1),)),), "yes", "no") is None
    assert binary_probability(None, "yes", "no") is None
    assert binary_probability((TokenLogprob(" ", -0.1),), "yes", "no") is None


def test_parse_logprobs_reply_with_and_without_logprobs():
    import orjson

    with_lp = parse_logprobs_reply(orjson.dumps(chat_reply("safe", [("safe", -0.1, [("safe", -0.1),
                                                                                    ("unsafe", -2.4)])])))
    assert with_lp.text == "safe" and with_lp.logprobs == (TokenLogprob("safe", -0.1, (("safe", -0.1),
                                                                                         ("unsafe", -2.4))),)
    without = parse_logprobs_reply(orjson.dumps(chat_reply("safe")))
    assert without.text == "safe" and without.logprobs is None


@pytest.mark.parametrize("name", MODEL_JUDGES)
def test_every_model_judge_defaults_to_the_embedded_model_without_loading_it(name):
    judge = create_judge(name)
    assert isinstance(judge, ModelJudge)
    assert judge.spec.options["target"] == DEFAULT_JUDGE_TARGET
    assert judge.spec.options["format_version"] >= 1 and judge.spec.options["send"] in ("chat", "raw")
    assert judge._target is None  # built on the first call only


def test_registered_model_judges_are_all_listed():
    registered = {entry.name for entry in judges}
    offline = {"refusal", "harm", "harm-embed", "prompt-harm", "exchange-harm", "guard"}
    assert set(MODEL_JUDGES) | {"ensemble", "openai-moderation"} | offline == registered


def test_bad_common_options_are_usage_errors():
    for options in ({"send": "email"}, {"prompt_source": "elsewhere"}, {"max_tokens": 0}, {"target": "x"},
                    {"no_such_option": 1}):
        with pytest.raises(UsageError):
            create_judge("llama-guard-3", options)


async def test_logprobs_on_a_backend_without_them_leave_probability_empty(make_item):
    judge = create_judge("llama-guard-3", {"target": "mock/scripted", "logprobs": True,
                                           "target_options": {"default_reply": "unsafe\nS2"}})
    verdict = await judge.judge(make_item())
    assert verdict.label == VerdictLabel.UNSAFE and verdict.probability_unsafe is None and verdict.confidence is None


async def test_server_that_ignores_logprobs(chat_stub, make_item):
    chat_stub.behaviour = lambda body, count: (200, chat_reply("Yes"), {})
    judge = create_judge("harmbench", {"target": "openai/cls", "logprobs": True,
                                       "target_options": {"base_url": chat_stub.base_url}})
    verdict = await judge.judge(make_item())
    await judge.aclose()  # type: ignore[attr-defined]
    assert verdict.label == VerdictLabel.UNSAFE and verdict.probability_unsafe is None


async def test_api_key_reaches_the_logprobs_call_but_not_the_spec(chat_stub, make_item, monkeypatch):
    monkeypatch.setenv("GUARD_KEY", "sk-guard")
    chat_stub.behaviour = lambda body, count: (200, chat_reply("No"), {})
    judge = create_judge("granite-guardian", {"target": "openai/granite", "logprobs": True, "target_options": {
        "base_url": chat_stub.base_url, "api_key_env": "GUARD_KEY"}})
    await judge.judge(make_item())
    await judge.aclose()  # type: ignore[attr-defined]
    assert chat_stub.headers_seen[0]["Authorization"] == "Bearer sk-guard"
    assert "sk-guard" not in judge.spec.model_dump_json()
