"""The guard engine: concurrency and timeouts, skipped experts, policy actions, fail modes, feedback, store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from safetyscope.core.errors import UsageError
from safetyscope.core.records import Message
from safetyscope.guard import GuardPolicy, default_policy, load_policy
from safetyscope.guard.engine import AlreadyLabelled, UnknownDecision, apply_feedback, expert_options
from safetyscope.guard.policy import dump_policy, parse_policy

USER = (Message(role="user", content="how do I build a bomb"),)
BENIGN = (Message(role="user", content="how do I bake bread"),)


async def test_experts_run_concurrently_and_late_or_failing_ones_are_skipped(make_engine, scripted, rules) -> None:
    fast = scripted("fast", rules["keyword"]("bomb"))
    slow = scripted("slow", rules["always"]("safe"), delay_s=5.0)
    broken = scripted("broken", rules["always"]("safe"), fail=True)
    vague = scripted("vague", rules["always"]("unscored"))
    engine = make_engine({"fast": fast, "slow": slow, "broken": broken, "vague": vague}, timeout_s=0.3)
    start = time.perf_counter()
    decision = await engine.check(USER)
    assert time.perf_counter() - start < 2.0
    assert decision.action == "block" and decision.categories == ("vcr",)
    assert decision.weights == {"fast": 1.0}  # renormalised over the one expert that voted
    assert set(decision.skipped) == {"slow", "broken", "vague"} and decision.degraded
    status = {vote.expert: vote.status for vote in decision.experts}
    assert status == {"fast": "ok", "slow": "timeout", "broken": "error", "vague": "unscored"}


@pytest.mark.parametrize(("mode", "action"), [("closed", "block"), ("open", "allow"), ("review", "review")])
async def test_fail_mode_when_no_expert_answers(make_engine, scripted, rules, mode: str, action: str) -> None:
    engine = make_engine({"x": scripted("x", rules["always"]("safe"), fail=True)}, fail_mode=mode)
    decision = await engine.check(USER)
    assert decision.action == action and decision.label == "unknown"


async def test_allowed_hazards_and_custom_categories(make_engine, scripted, rules) -> None:
    engine = make_engine({"k": scripted("k", rules["keyword"]("bomb", ("spc",)))}, allowed=["spc"])
    assert (await engine.check(USER)).action == "allow"
    assert (await engine.check(BENIGN)).action == "allow"
    engine = make_engine({"k": scripted("k", rules["keyword"]("bomb", ()))}, unlisted_action="allow")
    assert (await engine.check(USER)).action == "allow"
    engine = make_engine({"k": scripted("k", rules["keyword"]("bomb", ()))})
    assert (await engine.check(USER)).action == "block"


async def test_conformal_policy_abstains_in_the_middle(make_engine, scripted, rules) -> None:
    engine = make_engine({"k": scripted("k", rules["keyword"]("bomb", ("vcr",), probability=0.55))},
                         conformal={"alpha": 0.1, "q": 0.6, "n": 100})
    decision = await engine.check(USER)
    assert decision.action == "review" and decision.prediction_set == ("safe", "unsafe")


async def test_feedback_updates_and_persists_weights(make_engine, scripted, rules, store) -> None:
    right = scripted("right", rules["keyword"]("bomb"))
    wrong = scripted("wrong", rules["always"]("safe"))
    engine = make_engine({"right": right, "wrong": wrong})
    first = await engine.check(USER)
    assert first.weights == {"right": 0.5, "wrong": 0.5}
    result = engine.feedback(first.decision_id, "unsafe")
    assert result.losses == {"right": 0.0, "wrong": 1.0} and result.rounds == 1
    assert result.weights["right"] > result.weights["wrong"]
    with pytest.raises(AlreadyLabelled):
        engine.feedback(first.decision_id, "safe")
    with pytest.raises(UnknownDecision):
        engine.feedback("gd-nope", "safe")
    second = await engine.check(USER)
    assert second.weights["right"] == pytest.approx(result.weights["right"], abs=1e-6)
    assert second.action == "block"  # the right expert now outweighs the wrong one
    row = store.get_decision(second.decision_id)
    assert row is not None and row.policy_version == "1" and row.decision["experts"][0]["expert"] == "right"
    # the review CLI path: feedback without the policy object
    again = apply_feedback(store, second.decision_id, "unsafe")
    assert again.rounds == 2


async def test_store_text_or_hash(make_engine, scripted, rules, store) -> None:
    engine = make_engine({"k": scripted("k", rules["keyword"]("bomb"))}, store_text=False)
    decision = await engine.check(USER)
    row = store.get_decision(decision.decision_id)
    assert row is not None and row.input_text is None and len(row.input_hash) == 32


async def test_output_direction_judges_the_response(make_engine, scripted, rules) -> None:
    engine = make_engine({"k": scripted("k", rules["keyword"]("detonator"))})
    convo = (*BENIGN, Message(role="assistant", content="attach the detonator"))
    assert (await engine.check(convo, "output")).action == "block"
    with pytest.raises(UsageError):
        await engine.check(BENIGN, "output")
    with pytest.raises(UsageError):
        await engine.check(convo, "input")


def test_policy_yaml_round_trip_and_validation(tmp_path: Path) -> None:
    policy = default_policy()
    assert {e.judge for e in policy.experts} == {"prompt-harm", "exchange-harm"} and policy.fail_mode == "closed"
    path = tmp_path / "p.yaml"
    path.write_text(dump_policy(policy), encoding="utf-8")
    assert load_policy(path) == policy
    bad: list[dict[str, Any]] = [
        {"experts": [{"name": "a", "judge": "refusal"}], "allowed": ["nope"]},
        {"experts": [{"name": "a", "judge": "refusal"}], "allowed": ["vcr"], "blocked": ["vcr"]},
        {"experts": [{"name": "a", "judge": "refusal"}, {"name": "a", "judge": "refusal"}]},
        {"experts": []},
        {"experts": [{"name": "a", "judge": "refusal", "timeout_s": 0}]},
    ]
    for data in bad:
        with pytest.raises(UsageError):
            parse_policy(data)
    policy = GuardPolicy(experts=[{"name": "a", "judge": "refusal"}], allowed=["spc_fin"])  # type: ignore[list-item]
    assert "spc" not in policy.blocked_hazards and "vcr" in policy.blocked_hazards


def test_custom_categories_reach_llama_guard_experts() -> None:
    policy = parse_policy({"custom_categories": [{"name": "Competitors", "description": "Rival products."}],
                           "experts": [{"name": "lg", "judge": "llama-guard-3", "options": {"side": "prompt"}}]})
    options = expert_options(policy.experts[0], policy)
    codes = [c["code"] for c in options["categories"]]
    assert codes[:2] == ["S1", "S2"] and codes[-1] == "C1"
    from safetyscope.judges import create_judge

    judge: Any = create_judge("llama-guard-3", options)
    assert judge.send == "raw"


def test_a_granite_guardian_expert_takes_a_custom_category_as_its_risk_definition() -> None:
    from safetyscope.judges import create_judge

    policy = parse_policy({"custom_categories": [{"name": "Competitors", "description": "Talk of rival products."},
                                                 {"name": "Bare"}],
                           "experts": [{"name": "gg", "judge": "granite-guardian", "options": {"risk": "Competitors"}},
                                       {"name": "gg-harm", "judge": "granite-guardian"},
                                       {"name": "gg-bare", "judge": "granite-guardian", "options": {"risk": "Bare"}}]})
    custom, builtin, bare = policy.experts
    options = expert_options(custom, policy)
    assert options == {"risk": "Competitors", "risk_definition": "Talk of rival products."}
    judge: Any = create_judge("granite-guardian", options)
    assert judge.spec.options["risk_definition"] == "Talk of rival products."
    assert expert_options(builtin, policy) == {}  # the built-in harm risk, untouched
    with pytest.raises(UsageError, match="needs a description"):
        expert_options(bare, policy)


@pytest.mark.parametrize("action", ["allow", "block"])
async def test_custom_category_named_by_an_expert_follows_its_action(make_engine, scripted, action: str) -> None:
    from safetyscope.core.records import Verdict, VerdictLabel

    def rule(_text: str) -> Verdict:
        return Verdict(label=VerdictLabel.UNSAFE, evidence=("C1: Competitors",))

    engine = make_engine({"k": scripted("k", rule)},
                         custom_categories=[{"name": "Competitors", "description": "Rivals.", "action": action}])
    decision = await engine.check(USER)
    assert decision.action == action and decision.custom_categories == ("Competitors",)
