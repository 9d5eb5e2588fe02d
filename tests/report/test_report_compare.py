"""Paired comparison: matching, McNemar + Holm, the Newcombe interval and flipped prompts."""

import orjson
import pytest
from rich.console import Console

from safetyscope.metrics.paired import mcnemar_exact
from safetyscope.report.compare import (
    OVER_REFUSAL,
    compare_runs,
    markdown_comparison,
    newcombe_paired_interval,
    print_comparison,
)


def test_newcombe_interval_properties():
    low, high = newcombe_paired_interval(10, 2, 8, 30)
    delta = (8 - 2) / 50
    assert -1 <= low < delta < high <= 1
    # swapping A and B negates the interval
    swapped = newcombe_paired_interval(10, 8, 2, 30)
    assert swapped == pytest.approx((-high, -low))
    # more data, narrower
    wide = newcombe_paired_interval(1, 1, 2, 3)
    assert (wide[1] - wide[0]) > (high - low)
    # no discordance: contains 0
    assert newcombe_paired_interval(5, 0, 0, 5)[0] < 0 < newcombe_paired_interval(5, 0, 0, 5)[1]
    assert newcombe_paired_interval(0, 0, 0, 0) == (-1.0, 1.0)


def test_compare_counts_tests_and_flips(runs, store):
    comparison = compare_runs(store, store.get_run(runs.refuser), store.get_run(runs.scripted))
    tests = {t.scope: t for t in comparison.tests}
    overall = tests["overall"]
    assert (overall.pairs, overall.only_a, overall.only_b) == (12, 0, 2)
    assert overall.delta == pytest.approx(2 / 12)
    assert overall.p_value == mcnemar_exact(0, 2) == 0.5
    assert tests["vcr"].only_b == 2 and tests["hte"].only_b == 0
    assert tests[OVER_REFUSAL].only_a == 1  # b1 answered by B: A refused it
    assert all(t.p_holm >= t.p_value for t in comparison.tests)
    assert comparison.only_in_a == comparison.only_in_b == 0
    flips = [(f.sample_id, f.before, f.after, f.worse) for f in comparison.flips]
    assert flips == [("u0", "safe", "unsafe", True), ("u6", "safe", "unsafe", True),
                     ("b1", "refused", "answered", False)]


def test_compare_outputs(runs, store):
    comparison = compare_runs(store, store.get_run(runs.refuser), store.get_run(runs.complier))
    data = orjson.loads(orjson.dumps(comparison.as_dict()))
    overall = next(t for t in data["tests"] if t["scope"] == "overall")
    assert overall["only_b"] == 12 and overall["p_holm"] < 0.01
    assert len(data["flips"]) == 16
    markdown = markdown_comparison(comparison)
    assert "| Overall |" in markdown and "safe → unsafe" in markdown and "\\|" not in markdown.split("## Flipped")[0]
    console = Console(record=True, width=200)
    print_comparison(console, comparison, flips_shown=3)
    text = console.export_text()
    assert "Flipped prompts: 12 worse in B, 4 better" in text and "13 more" in text


def test_compare_only_shared_pairs_and_unscored(runs, store, make_run):
    partial = make_run(runs.dataset, "mock/scripted", limit=5, target_options={"default_reply": " "})
    comparison = compare_runs(store, store.get_run(runs.refuser), store.get_run(partial))
    assert comparison.only_in_a == 11 and comparison.only_in_b == 0
    assert sum(t.pairs for t in comparison.tests) == 0  # every B reply empty: unscored, pairs dropped
    assert sum(t.dropped for t in comparison.tests if t.scope != "overall") == 5
    assert not comparison.flips and all(t.p_value == 1.0 for t in comparison.tests)
