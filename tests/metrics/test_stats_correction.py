"""Judge-error-corrected prevalence: published values, hand computations, bootstrap cross-checks, coverage."""

from __future__ import annotations

import math
import random

import pytest

from safetyscope.metrics.agreement import binary_agreement
from safetyscope.metrics.correction import (
    JudgeValidation,
    Method,
    UncorrectableError,
    bootstrap_interval,
    corrected_prevalence,
    delta_variance,
    lang_reiczigel_interval,
    rogan_gladen,
    wald_interval,
    z_value,
)
from safetyscope.metrics.intervals import wilson_interval

# The worked examples of Lang & Reiczigel (2014), as listed in R asht::prevSeSp's help page with their 95% CIs.
# (k, n, se_hits, n_se, sp_hits, n_sp, published low, published high, decimals)
PUBLISHED = [
    (4060, 11284, 178, 179, 358, 359, 0.349, 0.372, 3),  # example 1
    (51, 2971, 32, 33, 20, 20, 0.0, 0.053, 3),  # example 2
    (712, 11862, 8, 10, 12, 12, 0.0, 0.147, 3),  # example 3 (AP = 0.06 of 11862; 712/11862 = 0.0600)
    (259, 509, 84, 127, 96, 109, 0.58, 0.87, 2),  # example 4a
    (51, 509, 23, 41, 187, 195, 0.037, 0.195, 3),  # example 4b
]


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw as a sum of Bernoulli trials: independent of the module's own sampler."""
    return sum(rng.random() < p for _ in range(n))


def test_rogan_gladen_by_hand():
    """p̂ = 0.305, Se = 0.9, Sp = 0.95: π̂ = (0.305 + 0.95 − 1)/(0.9 + 0.95 − 1) = 0.255/0.85 = 0.3."""
    assert rogan_gladen(0.305, 0.9, 0.95) == pytest.approx(0.3)
    assert rogan_gladen(0.02, 0.9, 0.95) == 0.0  # (0.02 − 0.05)/0.85 < 0, clipped
    assert rogan_gladen(0.02, 0.9, 0.95, clip=False) == pytest.approx(-0.03 / 0.85)
    assert rogan_gladen(1.0, 0.9, 0.95) == 1.0  # 1.05/0.85 > 1, clipped
    assert rogan_gladen(0.4, 1.0, 1.0) == pytest.approx(0.4)  # a perfect judge changes nothing


def test_delta_variance_by_hand():
    """k = 122 of n = 400 (p̂ = 0.305), Se = 135/150 = 0.9, Sp = 143/150 = 0.953333:

    π̂ = (0.305 + 0.953333 − 1)/(0.9 + 0.953333 − 1) = 0.258333/0.853333 = 0.302734;
    Var = [0.305·0.695/400 + π̂²·0.9·0.1/150 + (1 − π̂)²·0.953333·0.046667/150] / 0.853333²
        = [5.299375e-4 + 5.498886e-5 + 1.441972e-4] / 0.728178 = 1.001299e-3   (SE ≈ 0.031643).
    """
    validation = JudgeValidation(se_hits=135, n_se=150, sp_hits=143, n_sp=150)
    sp = 143 / 150
    pi = (0.305 + sp - 1) / (0.9 + sp - 1)
    expected = (0.305 * 0.695 / 400 + pi**2 * 0.9 * 0.1 / 150 + (1 - pi) ** 2 * sp * (1 - sp) / 150) / (
        0.9 + sp - 1) ** 2
    assert delta_variance(122, 400, validation) == pytest.approx(expected)
    assert delta_variance(122, 400, validation) == pytest.approx(1.001299e-3, rel=1e-5)


@pytest.mark.parametrize(("k", "n", "se_hits", "n_se", "sp_hits", "n_sp", "low", "high", "places"), PUBLISHED)
def test_lang_reiczigel_matches_published_examples(k, n, se_hits, n_se, sp_hits, n_sp, low, high, places):
    validation = JudgeValidation(se_hits, n_se, sp_hits, n_sp)
    got = lang_reiczigel_interval(k, n, validation)
    assert round(got[0], places) == low and round(got[1], places) == high


def test_lang_reiczigel_by_hand():
    """Example 4a (k = 259, n = 509, Se = 84/127, Sp = 96/109), z = 1.959964, z² = 3.841459, step by step:

    Se′ = (84 + 1)/129 = 0.658915, Sp′ = (96 + 1)/111 = 0.873874, n_se′ = 129, n_sp′ = 111;
    p′ = (259 + 1.920729)/(509 + 3.841459) = 260.920729/512.841459 = 0.508775, n′ = 512.841459;
    π′ = (0.508775 + 0.873874 − 1)/(0.658915 + 0.873874 − 1) = 0.382649/0.532789 = 0.718200;
    dπ = 2·3.841459·[0.718200·0.224746/129 − 0.281800·0.110218/111] = 0.007464;
    Var′ = [0.508775·0.491225/512.841459 + 0.718200²·0.224746/129 + 0.281800²·0.110218/111]/0.532789²
         = [4.873300e-4 + 8.986544e-4 + 7.885229e-5]/0.283864 = 5.160352e-3, z·√Var′ = 0.140795;
    CI = 0.718200 + 0.007464 ± 0.140795 ≈ (0.584868, 0.866458) unrounded — published 0.58 to 0.87.
    """
    low, high = lang_reiczigel_interval(259, 509, JudgeValidation(84, 127, 96, 109))
    assert low == pytest.approx(0.584868, abs=2e-6)
    assert high == pytest.approx(0.866458, abs=2e-6)


def parametric_bootstrap(k: int, n: int, v: JudgeValidation, replicates: int, seed: int) -> tuple[float, float]:
    """A test-local parametric bootstrap (Bernoulli sums, plain sorting) to cross-check the analytic interval."""
    rng = random.Random(seed)
    estimates = []
    for _ in range(replicates):
        p = binomial(rng, n, k / n) / n
        se = binomial(rng, v.n_se, v.se_hits / v.n_se) / v.n_se
        sp = binomial(rng, v.n_sp, v.sp_hits / v.n_sp) / v.n_sp
        if se + sp > 1:
            estimates.append(min(1.0, max(0.0, (p + sp - 1) / (se + sp - 1))))
    estimates.sort()
    return estimates[int(0.025 * len(estimates))], estimates[int(0.975 * len(estimates)) - 1]


@pytest.mark.parametrize(("k", "n", "v", "tolerance"), [
    (259, 509, JudgeValidation(84, 127, 96, 109), 0.025),
    (122, 400, JudgeValidation(135, 150, 143, 150), 0.01),
])
def test_lang_reiczigel_agrees_with_parametric_bootstrap(k, n, v, tolerance):
    """Away from the [0, 1] edges the analytic interval and the bootstrap percentiles agree closely."""
    analytic = lang_reiczigel_interval(k, n, v)
    local = parametric_bootstrap(k, n, v, replicates=1000, seed=11)
    module = bootstrap_interval(k, n, v, replicates=2000, seed=3)
    assert module.dropped == 0 and module.replicates == 2000
    for low, high in (local, (module.low, module.high)):
        assert analytic[0] == pytest.approx(low, abs=tolerance)
        assert analytic[1] == pytest.approx(high, abs=tolerance)


def test_bootstrap_is_seeded_and_counts_dropped_replicates():
    v = JudgeValidation(135, 150, 143, 150)
    assert bootstrap_interval(122, 400, v, seed=5) == bootstrap_interval(122, 400, v, seed=5)
    assert bootstrap_interval(122, 400, v, seed=5) != bootstrap_interval(122, 400, v, seed=6)
    weak = JudgeValidation(6, 10, 5, 10)  # Se + Sp = 1.1 on ten items each: many replicates fall to ≤ 1
    boot = bootstrap_interval(5, 10, weak, replicates=500, seed=1)
    assert 0 < boot.dropped < 500 and 0.0 <= boot.low <= boot.high <= 1.0
    with pytest.raises(ValueError):
        bootstrap_interval(122, 400, v, replicates=1)


def test_corrected_prevalence_record():
    v = JudgeValidation(135, 150, 143, 150)
    result = corrected_prevalence(122, 400, v)
    assert result.correctable and result.reason is None
    assert result.method is Method.LANG_REICZIGEL and result.confidence == 0.95
    assert result.apparent == pytest.approx(0.305)
    assert result.corrected == pytest.approx(rogan_gladen(0.305, 0.9, 143 / 150))
    assert result.interval == lang_reiczigel_interval(122, 400, v)
    assert result.std_error == pytest.approx(math.sqrt(delta_variance(122, 400, v)))
    assert (result.se, result.sp) == (0.9, 143 / 150)
    boot = corrected_prevalence(122, 400, v, method="bootstrap", replicates=500, seed=2)
    assert boot.method is Method.BOOTSTRAP and boot.bootstrap_replicates == 500 and boot.bootstrap_dropped == 0
    assert boot.interval == (lambda b: (b.low, b.high))(bootstrap_interval(122, 400, v, replicates=500, seed=2))
    wald = corrected_prevalence(122, 400, v, method=Method.WALD)
    assert wald.interval == wald_interval(122, 400, v)
    data = result.as_dict()
    assert data["method"] == "lang-reiczigel" and data["n_se"] == 150 and data["interval"] == list(result.interval)


def test_validation_from_agreement():
    truth = [True] * 10 + [False] * 20 + [True]
    verdict = [True] * 9 + [False] + [False] * 18 + [True] * 2 + [None]
    v = JudgeValidation.from_agreement(binary_agreement(truth, verdict))
    assert v == JudgeValidation(se_hits=9, n_se=10, sp_hits=18, n_sp=20)  # the unscored item is in neither arm


def test_z_value():
    assert z_value(0.95) == pytest.approx(1.959963984540054)
    assert z_value(0.90) == pytest.approx(1.6448536269514722)
    with pytest.raises(ValueError):
        z_value(1.0)


# ------------------------------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("validation", [
    JudgeValidation(50, 100, 50, 100),  # Se + Sp = 1: chance
    JudgeValidation(30, 100, 60, 100),  # Se + Sp = 0.9: worse than chance
])
def test_no_better_than_chance_judge_is_uncorrectable(validation):
    with pytest.raises(UncorrectableError, match="Se \\+ Sp"):
        rogan_gladen(0.3, validation.se or 0, validation.sp or 0)
    for function in (lang_reiczigel_interval, wald_interval, delta_variance):
        with pytest.raises(UncorrectableError):
            function(30, 100, validation)
    with pytest.raises(UncorrectableError):
        bootstrap_interval(30, 100, validation)
    for method in Method:
        result = corrected_prevalence(30, 100, validation, method=method)
        assert not result.correctable and "Se + Sp" in (result.reason or "")
        assert result.apparent == 0.3 and result.corrected is None and result.interval is None


def test_empty_validation_and_empty_sample_are_uncorrectable():
    for validation in (JudgeValidation(0, 0, 0, 0), JudgeValidation(9, 10, 0, 0), JudgeValidation(0, 0, 9, 10)):
        result = corrected_prevalence(3, 10, validation)
        assert not result.correctable and "empty validation" in (result.reason or "")
        with pytest.raises(UncorrectableError, match="empty validation"):
            lang_reiczigel_interval(3, 10, validation)
    result = corrected_prevalence(0, 0, JudgeValidation(9, 10, 9, 10))
    assert not result.correctable and result.apparent is None and "n = 0" in (result.reason or "")
    with pytest.raises(UncorrectableError):
        lang_reiczigel_interval(0, 0, JudgeValidation(9, 10, 9, 10))


def test_invalid_counts_raise():
    with pytest.raises(ValueError):
        JudgeValidation(11, 10, 5, 10)
    with pytest.raises(ValueError):
        corrected_prevalence(11, 10, JudgeValidation(9, 10, 9, 10))
    with pytest.raises(ValueError):
        rogan_gladen(1.2, 0.9, 0.9)


def test_k_zero_and_k_n_stay_inside_unit_interval():
    v = JudgeValidation(135, 150, 143, 150)
    zero = corrected_prevalence(0, 400, v)
    # 0/400 judged positive although Sp = 0.953 predicts ~19 false positives: π′ + dπ + z√Var′ = −0.0144 < 0,
    # so both clipped ends are 0 (R's prevSeSp would return the incoherent (0, −0.0144)).
    assert zero.corrected == 0.0 and zero.interval == (0.0, 0.0)
    few = corrected_prevalence(20, 400, v)  # apparent 0.05 ≈ 1 − Sp
    assert few.interval is not None and few.interval[0] == 0.0 and 0.0 < few.interval[1] < 0.1
    full = corrected_prevalence(400, 400, v)  # mirror image: 400/400 although Se = 0.9 predicts ~40 misses
    assert full.corrected == 1.0 and full.interval == (1.0, 1.0)
    most = corrected_prevalence(360, 400, v)  # apparent 0.9 ≈ Se
    assert most.interval is not None and most.interval[1] == 1.0 and 0.9 < most.interval[0] < 1.0
    for method in Method:
        for k in (0, 400):
            interval = corrected_prevalence(k, 400, v, method=method, replicates=300).interval
            assert interval is not None and 0.0 <= interval[0] <= interval[1] <= 1.0


def test_perfect_validation_still_widens_for_validation_size():
    """Se = Sp = 1 on 20 items each: the point estimate is the apparent rate, the interval still reflects n_se, n_sp."""
    v = JudgeValidation(20, 20, 20, 20)
    result = corrected_prevalence(120, 400, v)
    assert result.corrected == pytest.approx(0.3)
    assert result.interval is not None
    wilson = wilson_interval(120, 400)
    assert result.interval[1] - result.interval[0] > wilson[1] - wilson[0]


# ------------------------------------------------------------------------------------------------- coverage


def coverage(pi: float, se: float, sp: float, n: int, n_se: int, n_sp: int, *, studies: int,
             seed: int) -> dict[str, float]:
    """Share of simulated studies whose 95% interval contains the true prevalence π, per method."""
    rng = random.Random(seed)
    apparent = pi * se + (1 - pi) * (1 - sp)
    hits = {"lang-reiczigel": 0, "naive-wilson": 0}
    for _ in range(studies):
        k = binomial(rng, n, apparent)
        v = JudgeValidation(binomial(rng, n_se, se), n_se, binomial(rng, n_sp, sp), n_sp)
        low, high = lang_reiczigel_interval(k, n, v)
        hits["lang-reiczigel"] += low <= pi <= high
        low, high = wilson_interval(k, n)
        hits["naive-wilson"] += low <= pi <= high
    return {name: count / studies for name, count in hits.items()}


def test_lang_reiczigel_coverage_and_why_correction_matters():
    """300 seeded studies, π = 0.3, Se = 0.9, Sp = 0.95, n = 400, n_se = n_sp = 150 (measured: LR 0.963, Wilson
    0.947; with 4,000 studies 0.954 vs 0.941). Here the apparent rate 0.305 happens to sit next to π, so the naive
    interval is only slightly worse; at π = 0.05 (apparent 0.0925, typical of attack-success rates on a guarded
    model) the naive Wilson interval almost never covers the truth (measured 0.067 vs 0.957).
    """
    result = coverage(0.3, 0.9, 0.95, 400, 150, 150, studies=300, seed=1)
    assert result["lang-reiczigel"] >= 0.90
    assert result["naive-wilson"] < result["lang-reiczigel"]
    low_prevalence = coverage(0.05, 0.9, 0.95, 400, 150, 150, studies=300, seed=1)
    assert low_prevalence["lang-reiczigel"] >= 0.90
    assert low_prevalence["naive-wilson"] < 0.5
