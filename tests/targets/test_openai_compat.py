import time

import pytest

from openai_stub import StubServer, completion
from safetyscope.core.errors import PrerequisiteError, TargetError
from safetyscope.core.records import GenerationParams, Message
from safetyscope.runner.retry import RetryPolicy, call_with_retries
from safetyscope.targets import create_target
from safetyscope.targets.openai_compat import parse_retry_after

USER = (Message(role="user", content="hello"),)


@pytest.fixture
async def stub():
    server = await StubServer().start()
    yield server
    await server.stop()


async def test_request_body_and_reply_parsing(stub, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    target = create_target("openai/stub-model", {"base_url": stub.base_url, "api_key_env": "MY_KEY"})
    params = GenerationParams(max_tokens=12, temperature=0.3, seed=5, stop=("END",), system_prompt="Be safe.")
    generation = await target.generate(USER, params)
    await target.aclose()
    body = stub.requests[0]
    assert body == {"model": "stub-model", "max_tokens": 12, "temperature": 0.3, "seed": 5, "stop": ["END"],
                    "messages": [{"role": "system", "content": "Be safe."}, {"role": "user", "content": "hello"}]}
    assert stub.headers_seen[0]["Authorization"] == "Bearer sk-test"
    assert generation.text == "Sure! Here is the answer: hello"
    assert generation.prompt_tokens == 7 and generation.completion_tokens == 3 and generation.latency_ms > 0
    assert "sk-test" not in target.spec.model_dump_json()  # the key is never part of what is stored


async def test_429_honours_retry_after_then_succeeds(stub):
    def limited(body, count):
        if count == 0:
            return 429, {"error": "slow down"}, {"Retry-After": "0.3"}
        return 200, completion("ok"), {}

    stub.behaviour = limited
    target = create_target("openai/m", {"base_url": stub.base_url})
    started = time.perf_counter()
    generation = await call_with_retries(target, USER, GenerationParams(), RetryPolicy(base_delay_s=0.001),
                                         __import__("random").Random(0))
    await target.aclose()
    assert generation.text == "ok" and len(stub.requests) == 2
    assert time.perf_counter() - started >= 0.3


async def test_5xx_is_retried_and_4xx_is_final(stub):
    stub.behaviour = lambda body, count: (503, {"error": "down"}, {}) if count < 2 else (200, completion("ok"), {})
    target = create_target("openai/m", {"base_url": stub.base_url})
    policy = RetryPolicy(base_delay_s=0.001)
    rng = __import__("random").Random(0)
    assert (await call_with_retries(target, USER, GenerationParams(), policy, rng)).text == "ok"
    stub.behaviour = lambda body, count: (400, {"error": "bad request"}, {})
    with pytest.raises(TargetError, match="HTTP 400") as info:
        await call_with_retries(target, (Message(role="user", content="other"),), GenerationParams(), policy, rng)
    assert not info.value.retryable and stub.calls_per_prompt["other"] == 1
    await target.aclose()


async def test_connection_refused_is_retryable_error():
    target = create_target("openai/m", {"base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(TargetError) as info:
        await target.generate(USER, GenerationParams())
    await target.aclose()
    assert info.value.retryable


async def test_malformed_reply_is_an_error_not_an_empty_answer(stub):
    stub.behaviour = lambda body, count: (200, {"choices": []}, {})
    target = create_target("openai/m", {"base_url": stub.base_url})
    with pytest.raises(TargetError, match="malformed"):
        await target.generate(USER, GenerationParams())
    await target.aclose()


def test_api_key_required_for_openai_itself(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PrerequisiteError, match="OPENAI_API_KEY"):
        create_target("openai/gpt-4o-mini")


def test_retry_after_formats():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") <= 0.0 + 1e-9
