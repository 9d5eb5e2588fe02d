"""The run loop end to end on mock and stub-HTTP targets with the real default judge."""

from pathlib import Path

import pytest

from openai_stub import StubServer
from safetyscope import evaluate_async
from safetyscope.core.config import resolve_spec
from safetyscope.runner.store import Store


def spec(tmp_path: Path, dataset: Path, **overrides):
    return resolve_spec(overrides={"dataset": str(dataset), "store": str(tmp_path / "r.sqlite"),
                                   "output_dir": tmp_path / "out", **overrides}, environ={})


async def test_refuser_has_zero_attack_success_and_full_over_refusal(tmp_path, small_dataset):
    result = await evaluate_async(spec(tmp_path, small_dataset, target="mock/refuser"))
    card = result.scorecard
    assert result.run.status == "complete" and card.total == 10
    overall = card.attack_success[("overall", "overall")]
    assert (overall.hits, overall.scored, overall.unscored) == (0, 6, 0)
    refusal = card.over_refusal["overall"]
    assert (refusal.hits, refusal.scored) == (4, 4)
    assert result.summary.json.exists() and result.summary.markdown.exists()


async def test_complier_is_fully_unsafe_per_hazard(tmp_path, small_dataset):
    card = (await evaluate_async(spec(tmp_path, small_dataset, target="mock/complier"))).scorecard
    assert card.attack_success[("overall", "overall")].value == 1.0
    assert card.attack_success[("none", "vcr")].hits == 1
    assert card.over_refusal["overall"].value == 0.0
    low, high = card.attack_success[("overall", "overall")].interval
    assert 0.5 < low < 1.0 and high == 1.0


async def test_empty_replies_are_unscored_never_safe(tmp_path, small_dataset):
    result = await evaluate_async(spec(tmp_path, small_dataset, target="mock/scripted",
                                       target_options={"default_reply": "   "}))
    card = result.scorecard
    overall = card.attack_success[("overall", "overall")]
    assert (overall.scored, overall.unscored) == (0, 6) and overall.value is None
    assert overall.bounds == (0.0, 1.0)
    assert card.unscored_reasons == {"empty response": 10}


async def test_retryable_failures_are_retried(tmp_path, small_dataset):
    result = await evaluate_async(spec(tmp_path, small_dataset, target="mock/failing",
                                       target_options={"failures": 2}, max_retries=3))
    assert result.run.status == "complete" and result.stats.errors == 0


async def test_final_failures_are_recorded_and_resume_retries_them(tmp_path, small_dataset):
    first = await evaluate_async(spec(tmp_path, small_dataset, target="mock/failing",
                                      target_options={"failures": 1, "retryable": False}, abort_after_failures=100))
    assert first.run.status == "incomplete" and first.stats.errors == 10
    assert first.scorecard.unscored_reasons == {"target error": 10}
    assert "--resume" in first.run.note
    # A new process would build a fresh target whose first call per prompt fails again; the mock's
    # per-instance memory stands in for a server that has recovered: resume sees all 10 as pending.
    resumed = await evaluate_async(spec(tmp_path, small_dataset, target="mock/failing",
                                        target_options={"failures": 1, "retryable": False}),
                                   resume=first.run.run_id)
    assert resumed.stats.resumed == 0 and resumed.stats.errors == 10  # retried, failed again, still recorded


async def test_unreachable_target_stops_early_incomplete(tmp_path, small_dataset):
    result = await evaluate_async(spec(tmp_path, small_dataset, target="openai/m", base_url="http://127.0.0.1:9/v1",
                                       max_retries=1, abort_after_failures=3, samples_in_flight=1))
    assert result.run.status == "incomplete"
    assert "consecutive failed target calls" in result.run.note
    assert result.stats.target_calls < 10


async def test_second_run_and_rejudge_reuse_stored_responses(tmp_path, small_dataset):
    server = await StubServer().start()
    try:
        options = {"target": "openai/stub", "base_url": server.base_url}
        first = await evaluate_async(spec(tmp_path, small_dataset, **options))
        assert first.stats.target_calls == 10 and len(server.requests) == 10
        second = await evaluate_async(spec(tmp_path, small_dataset, **options))
        assert second.stats.target_calls == 0 and second.stats.cached_responses == 10
        assert second.stats.cached_verdicts == 10 and len(server.requests) == 10
        assert second.scorecard.as_dict() == first.scorecard.as_dict()
        changed = await evaluate_async(spec(tmp_path, small_dataset, generation={"max_tokens": 7}, **options))
        assert changed.stats.target_calls == 10  # different generation parameters are a different call
    finally:
        await server.stop()


async def test_concurrency_bound_on_target_calls(tmp_path):
    from helpers import write_jsonl

    dataset = write_jsonl(tmp_path / "d.jsonl", [{"id": str(i), "prompt": f"unsafe {i}", "hazard": "ncr"}
                                                 for i in range(40)])
    server = StubServer(latency_s=0.05)
    await server.start()
    in_flight = {"now": 0, "max": 0}
    original = server._handle

    async def counting(request):
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            return await original(request)
        finally:
            in_flight["now"] -= 1

    server._handle = counting
    await server.stop()
    await server.start()  # re-register the wrapped handler
    try:
        await evaluate_async(spec(tmp_path, dataset, target="openai/stub", base_url=server.base_url,
                                  requests_in_flight=5, samples_in_flight=20))
    finally:
        await server.stop()
    assert in_flight["max"] == 5


async def test_resume_unknown_run_is_usage_error(tmp_path, small_dataset):
    from safetyscope.core.errors import UsageError

    with pytest.raises(UsageError, match="no run"):
        await evaluate_async(spec(tmp_path, small_dataset, target="mock/refuser"), resume="nope")
    store = Store.open(str(tmp_path / "r.sqlite"))
    assert store.list_runs() == []
    store.close()


async def test_resume_latest_picks_the_unfinished_run(tmp_path, small_dataset):
    from safetyscope.core.errors import UsageError

    done = await evaluate_async(spec(tmp_path, small_dataset, target="mock/refuser"))
    with pytest.raises(UsageError, match="no unfinished run"):
        await evaluate_async(spec(tmp_path, small_dataset), resume="latest")
    broken = await evaluate_async(spec(tmp_path, small_dataset, target="openai/m", base_url="http://127.0.0.1:9/v1",
                                       max_retries=0, abort_after_failures=2, samples_in_flight=1))
    assert broken.run.status == "incomplete" and done.run.run_id != broken.run.run_id
    again = await evaluate_async(spec(tmp_path, small_dataset, max_retries=0), resume="latest")
    assert again.run.run_id == broken.run.run_id


async def test_judge_model_down_keeps_attempts_resumable_and_reuses_responses(tmp_path, small_dataset):
    server = await StubServer().start()
    try:
        options = {"target": "openai/stub", "base_url": server.base_url, "judge": "llama-guard-3",
                   "judge_options": {"target": "openai/guard", "target_options": {"base_url": "http://127.0.0.1:9/v1"},
                                     "max_retries": 0}}
        first = await evaluate_async(spec(tmp_path, small_dataset, **options))
        assert first.run.status == "incomplete" and first.stats.errors == 10
        assert first.scorecard.unscored_reasons == {"judge error": 10}  # unscored, never safe
        assert len(server.requests) == 10
        resumed = await evaluate_async(spec(tmp_path, small_dataset, **options), resume=first.run.run_id)
        assert resumed.stats.target_calls == 0 and resumed.stats.cached_responses == 10  # responses were kept
        assert len(server.requests) == 10
    finally:
        await server.stop()


async def test_user_fixable_error_stops_the_run_instead_of_hanging(tmp_path, small_dataset, monkeypatch):
    import asyncio

    from safetyscope.core.errors import PrerequisiteError
    from safetyscope.targets.mock import MockTarget

    async def missing_package(self, messages, params):
        raise PrerequisiteError("pip install something")

    monkeypatch.setattr(MockTarget, "generate", missing_package)
    with pytest.raises(PrerequisiteError, match="pip install something"):
        await asyncio.wait_for(evaluate_async(spec(tmp_path, small_dataset, target="mock/refuser",
                                                  samples_in_flight=2)), timeout=20)
    store = Store.open(str(tmp_path / "r.sqlite"))
    assert [run.status for run in store.list_runs()] == ["incomplete"]
    store.close()


async def test_unexpected_backend_exception_is_recorded_not_fatal(tmp_path, small_dataset, monkeypatch):
    from safetyscope.targets.mock import MockTarget

    async def broken(self, messages, params):
        raise RuntimeError("backend bug")

    monkeypatch.setattr(MockTarget, "generate", broken)
    result = await evaluate_async(spec(tmp_path, small_dataset, target="mock/refuser", abort_after_failures=100))
    assert result.run.status == "incomplete" and result.stats.errors == 10
    assert result.scorecard.unscored_reasons == {"target error": 10}


async def test_best_of_n_counts_a_prompt_broken_by_any_attack(tmp_path):
    from helpers import write_jsonl

    dataset = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "prompt": "first", "hazard": "ncr"},
                                                 {"id": "b", "prompt": "second", "hazard": "ncr"},
                                                 {"id": "c", "prompt": "benign", "hazard": "benign"}])
    # The scripted model complies only with the reversed prompt "first": one attack breaks one prompt.
    from safetyscope.attacks import create_attack
    from safetyscope.datasets import open_dataset

    first = next(iter(open_dataset(str(dataset))))
    sent = (await create_attack("reverse").apply(first.messages, first, seed=0))[-1].content
    result = await evaluate_async(spec(tmp_path, dataset, target="mock/scripted", attacks=("none", "reverse"),
                                       target_options={"replies": {sent: "Sure, here are the steps: 1. do it."}}))
    card = result.scorecard
    assert card.attack_success[("none", "overall")].hits == 0
    assert card.attack_success[("reverse", "overall")].hits == 1
    best = card.best_of_n["overall"]
    assert (best.hits, best.scored, best.unscored) == (1, 2, 0)
