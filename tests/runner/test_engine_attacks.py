"""The engine and attacks that fail or decode with a model: attack errors are recorded on their attempt (never a
refusal, never toward abort_after_failures, retried on resume), ``adecode`` is awaited on every path, and slow
``apply`` calls run concurrently yet deterministically."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Sequence

import orjson
import pytest

from helpers import run_engine, unsafe_samples
from safetyscope.core.errors import AttackError
from safetyscope.core.records import ComponentSpec, Message, Sample
from safetyscope.metrics.scorecard import OVERALL
from safetyscope.targets import create_target


class FlakyAttack:
    """Fails (AttackError) for the samples in ``broken``; sends the sample as it is otherwise."""

    def __init__(self, broken: set[str]) -> None:
        self.spec = ComponentSpec(kind="attack", name="flaky")
        self.broken = broken

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        if sample.id in self.broken:
            raise AttackError("attacker model returned nothing")
        return tuple(messages)

    def decode(self, response: str) -> str:
        return response


class Rot13Attack:
    """Encodes the request in ROT13; decodes only through ``adecode`` (as a model-driven decoder would)."""

    spec = ComponentSpec(kind="attack", name="rot13-async")

    def __init__(self, fail: bool = False) -> None:
        self.decoded: list[str] = []
        self.fail = fail

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        return (Message(role="user", content=codecs.encode(messages[-1].content, "rot13")),)

    def decode(self, response: str) -> str:
        raise AssertionError("the engine must await adecode, not call decode")

    async def adecode(self, response: str) -> str:
        await asyncio.sleep(0)
        if self.fail:
            raise AttackError("back-translation failed")
        self.decoded.append(response)
        return codecs.decode(response, "rot13")


class SlowAttack:
    """A model-driven apply: takes ``delay_s``, and tracks how many run at once. Output depends on the seed."""

    spec = ComponentSpec(kind="attack", name="slow")

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.now = 0
        self.peak = 0

    async def apply(self, messages: Sequence[Message], sample: Sample, *, seed: int) -> tuple[Message, ...]:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(self.delay_s)
        self.now -= 1
        return (Message(role="user", content=f"{messages[-1].content} #{seed}"),)

    def decode(self, response: str) -> str:
        return response


async def test_attack_errors_are_their_own_unscored_reason_and_never_abort(tmp_path):
    samples = unsafe_samples(6)
    target = create_target("mock/complier")
    stats, card, store = await run_engine(tmp_path / "r.sqlite", attacks=(FlakyAttack({"s0", "s1", "s2", "s3"}),),
                                          target=target, samples=samples, abort_after_failures=2,
                                          samples_in_flight=1)
    try:
        assert stats.aborted is None and stats.errors == 4 and stats.attack_errors == 4
        assert stats.target_calls == 2  # the failed attempts never reached the target
        assert card.unscored_reasons == {"attack error": 4}
        overall = card.attack_success[("flaky", OVERALL)]
        assert (overall.hits, overall.scored, overall.unscored) == (2, 2, 4)  # not counted as refusals
        rows = {row["sample_id"]: row for row in store.iter_attempts("run-1")}
        assert rows["s0"]["status"] == "error"
        assert rows["s0"]["error"] == "attack error: attacker model returned nothing"
        assert rows["s0"]["response_key"] is None and rows["s0"]["label"] is None
    finally:
        store.close()
    # resume: the attacker works now; only the four failed attempts run again
    stats, card, store = await run_engine(tmp_path / "r.sqlite", attacks=(FlakyAttack(set()),), target=target,
                                          samples=samples)
    try:
        assert (stats.resumed, stats.finished, stats.errors) == (2, 4, 0)
        assert card.unscored_reasons == {} and card.attack_success[("flaky", OVERALL)].scored == 6
    finally:
        store.close()


async def test_target_failures_still_abort_while_attack_errors_do_not_count(tmp_path):
    stats, card, store = await run_engine(tmp_path / "r.sqlite", attacks=(FlakyAttack({"s0", "s1"}),),
                                          target=create_target("mock/failing", {"retryable": False}),
                                          samples=unsafe_samples(8), abort_after_failures=3, samples_in_flight=1)
    store.close()
    assert stats.attack_errors == 2 and stats.aborted is not None
    assert "3 consecutive failed target calls" in stats.aborted
    assert card.unscored_reasons["attack error"] == 2 and card.unscored_reasons["target error"] == 3


async def test_async_decoding_on_fresh_and_cached_replies(tmp_path):
    samples = unsafe_samples(3)
    # the echo model repeats the ROT13 prompt; adecode turns it back into the plain request for the judge
    attack = Rot13Attack()
    stats, _card, store = await run_engine(tmp_path / "r.sqlite", attacks=(attack,), target=create_target("mock/echo"),
                                           samples=samples)
    try:
        assert stats.target_calls == 3 and len(attack.decoded) == 3
        rows = sorted(store.iter_attempts("run-1"), key=lambda row: row["sample_id"])
        assert [row["decoded_response"] for row in rows] == ["unsafe request 0", "unsafe request 1",
                                                             "unsafe request 2"]
        assert all(row["status"] == "done" for row in rows)
    finally:
        store.close()
    # a second run reuses the stored replies and verdicts: the cached path awaits adecode too
    again = Rot13Attack()
    stats, _card, store = await run_engine(tmp_path / "r.sqlite", attacks=(again,), target=create_target("mock/echo"),
                                           samples=samples, run_id="run-2")
    store.close()
    assert (stats.target_calls, stats.cached_responses, stats.cached_verdicts) == (0, 3, 3)
    assert len(again.decoded) == 3


async def test_a_failing_async_decoder_is_an_attack_error_and_keeps_the_reply(tmp_path):
    stats, card, store = await run_engine(tmp_path / "r.sqlite", attacks=(Rot13Attack(fail=True),),
                                          target=create_target("mock/echo"), samples=unsafe_samples(2))
    try:
        assert stats.attack_errors == 2 and stats.judge_calls == 0
        assert card.unscored_reasons == {"attack error": 2}
        row = next(store.iter_attempts("run-1"))
        assert row["error"] == "attack error: back-translation failed"
        assert row["response_text"] is not None  # the target's reply is stored: a resume does not ask again
    finally:
        store.close()
    stats, _card, store = await run_engine(tmp_path / "r.sqlite", attacks=(Rot13Attack(),),
                                           target=create_target("mock/echo"), samples=unsafe_samples(2))
    store.close()
    assert (stats.target_calls, stats.cached_responses, stats.finished) == (0, 2, 2)


async def test_slow_applies_run_concurrently_and_deterministically(tmp_path):
    samples = unsafe_samples(12)
    attack = SlowAttack(0.2)
    started = asyncio.get_running_loop().time()
    _stats, _card, store = await run_engine(tmp_path / "a.sqlite", attacks=(attack,),
                                            target=create_target("mock/echo"), samples=samples, samples_in_flight=6)
    elapsed = asyncio.get_running_loop().time() - started
    first = {row["sample_id"]: orjson.loads(row["sent"]) for row in store.iter_attempts("run-1")}
    store.close()
    assert attack.peak == 6  # bounded by samples_in_flight, not one at a time
    assert elapsed < 12 * 0.2 / 2  # serial applies would take 2.4 s
    _stats, _card, store = await run_engine(tmp_path / "b.sqlite", attacks=(SlowAttack(0.0),),
                                            target=create_target("mock/echo"), samples=samples, samples_in_flight=3)
    second = {row["sample_id"]: orjson.loads(row["sent"]) for row in store.iter_attempts("run-1")}
    store.close()
    assert first == second and len(first) == 12  # same seeds, same messages, whatever the concurrency


def test_a_multi_turn_attack_cannot_be_composed():
    from safetyscope.attacks import create_attack
    from safetyscope.core.errors import UsageError

    with pytest.raises(UsageError, match="'pair' is a multi-turn attack and cannot be composed"):
        create_attack("base64+pair")  # refused when the spec is parsed, before any run is created


async def test_a_run_records_each_attacks_full_spec_with_its_attacker_model(tmp_path):
    from helpers import offline_attack

    paraphrase = offline_attack("paraphrase")
    _stats, _card, store = await run_engine(tmp_path / "s.sqlite", attacks=(paraphrase, offline_attack("base64")),
                                            target=create_target("mock/complier"), samples=unsafe_samples(2))
    specs = store.attack_specs("run-1")
    rows = list(store.iter_attempts("run-1"))
    store.close()
    assert set(specs) == {"paraphrase", "base64"} and {row["attack"] for row in rows} <= set(specs)
    assert specs["paraphrase"]["options"]["attacker"] == paraphrase.spec.options["attacker"]
    assert "mock/echo" in orjson.dumps(specs["paraphrase"]["options"]["attacker"]).decode()
