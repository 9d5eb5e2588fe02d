"""McNemar's exact test and Holm's correction against hand-computed values."""

from __future__ import annotations

import math

import pytest

from safetyscope.metrics.paired import discordant_counts, holm_adjust, holm_reject, mcnemar_exact, mcnemar_test


def test_mcnemar_exact_hand_computed_binomial_sums():
    """p = min(1, 2·Σ_{k=0}^{min(b,c)} C(b+c, k)/2^(b+c)).

    b = 1, c = 7: 2·(C(8,0) + C(8,1))/256 = 2·9/256 = 0.0703125.
    b = 0, c = 5: 2·1/32 = 0.0625.
    b = 2, c = 10: 2·(1 + 12 + 66)/4096 = 158/4096 = 0.03857421875.
    b = c = 3: 2·(1 + 6 + 15 + 20)/64 = 84/64 > 1 → 1.
    """
    assert mcnemar_exact(1, 7) == 18 / 256
    assert mcnemar_exact(7, 1) == 18 / 256
    assert mcnemar_exact(0, 5) == 0.0625
    assert mcnemar_exact(2, 10) == 158 / 4096
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 1) == 1.0


def test_mcnemar_exact_large_counts_match_log_space_sum():
    b, c = 380, 460
    n = b + c
    terms = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2) for k in range(b + 1)]
    top = max(terms)
    expected = 2 * math.exp(top) * sum(math.exp(t - top) for t in terms)
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
    assert 0.005 < mcnemar_exact(b, c) < 0.01  # z = 80/√840 ≈ 2.76


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_mcnemar_test_on_paired_outcomes():
    first = [True, True, True, False, False, True, None, True]
    second = [True, False, False, False, True, False, True, None]
    assert discordant_counts(first, second) == (3, 1)
    result = mcnemar_test(first, second)
    assert (result.b, result.c, result.n_pairs, result.n_dropped) == (3, 1, 6, 2)
    assert result.p_value == mcnemar_exact(3, 1) == min(1.0, 2 * (1 + 4) / 16)
    assert result.difference == pytest.approx(2 / 6)
    assert mcnemar_test([], []).difference is None
    with pytest.raises(ValueError):
        mcnemar_test([True], [])


def test_holm_hand_computed():
    """m = 5, p = 0.01, 0.02, 0.03, 0.04, 0.05: 5·0.01 = 0.05, 4·0.02 = 0.08, 3·0.03 = 0.09, 2·0.04 = 0.08 → 0.09
    (running max), 1·0.05 → 0.09. Same as R p.adjust(p, "holm")."""
    assert holm_adjust([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    # input order is kept, and values cap at 1
    assert holm_adjust([0.04, 0.01, 0.5, 0.03]) == pytest.approx([0.09, 0.04, 0.5, 0.09])
    assert holm_adjust([0.4, 0.6]) == pytest.approx([0.8, 0.8])
    assert holm_adjust([0.7, 0.9]) == [1.0, 1.0]
    assert holm_adjust([]) == []


def test_holm_mapping_and_reject():
    adjusted = holm_adjust({"vcr": 0.01, "hte": 0.04, "ssh": 0.03})
    assert adjusted == pytest.approx({"vcr": 0.03, "hte": 0.06, "ssh": 0.06})
    assert list(adjusted) == ["vcr", "hte", "ssh"]
    assert holm_reject([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm_reject([0.01, 0.04, 0.03], alpha=0.1) == [True, True, True]
    with pytest.raises(ValueError):
        holm_adjust([0.2, 1.5])
    with pytest.raises(ValueError):
        holm_adjust([float("nan")])
    with pytest.raises(ValueError):
        holm_reject([0.1], alpha=0)
