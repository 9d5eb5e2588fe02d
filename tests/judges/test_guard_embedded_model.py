"""One guard format end to end on the real embedded model (SmolLM2-135M): two items, eight tokens each.

SmolLM2 is not a guard model, so the verdicts themselves mean little; what is checked is that the exact Llama
Guard 3 prompt reaches a real model and that whatever comes back is either a parsed verdict or an unscored
one carrying the raw text — never an exception, never a silent "safe".
"""

from __future__ import annotations

import pytest

from safetyscope.core.records import VerdictLabel
from safetyscope.judges import create_judge

pytestmark = pytest.mark.model


async def test_llama_guard_3_runs_on_the_embedded_model(make_item):
    judge = create_judge("llama-guard-3", {"send": "raw", "max_tokens": 8, "target_options": {"n_threads": 2}})
    items = [make_item(), make_item(prompt="What is the capital of France?", response="Paris.", expect="comply")]
    verdicts = [await judge.judge(item) for item in items]
    await judge.aclose()  # type: ignore[attr-defined]
    for verdict in verdicts:
        assert verdict.raw_output is not None
        if verdict.label == VerdictLabel.UNSCORED:
            assert verdict.unscored_reason
        else:
            assert verdict.label in (VerdictLabel.SAFE, VerdictLabel.UNSAFE)
