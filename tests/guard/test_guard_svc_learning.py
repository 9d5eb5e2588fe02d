"""Hedge regret on a drifting synthetic stream, and split-conformal coverage on held-out data."""

from __future__ import annotations

import math
import random

import pytest

from safetyscope.guard import Hedge, calibrate, prediction_set
from safetyscope.guard.conformal import check_coverage, holdout_split
from safetyscope.guard.hedge import regret_bound


def _stream(seed: int, rounds: int) -> list[tuple[float, dict[str, float]]]:
    """Three experts vote on a stream; error rates change half-way (A good then bad, B the reverse)."""
    rng = random.Random(seed)
    rates = {"A": (0.10, 0.45), "B": (0.40, 0.05), "C": (0.30, 0.30)}
    out = []
    for t in range(rounds):
        truth = 1.0 if rng.random() < 0.3 else 0.0
        half = 0 if t < rounds // 2 else 1
        votes = {name: (1.0 - truth) if rng.random() < rate[half] else truth for name, rate in rates.items()}
        out.append((truth, votes))
    return out


@pytest.mark.parametrize("horizon", [None, 4000])
def test_hedge_regret_within_bound_and_weights_shift(horizon: int | None) -> None:
    rounds = 4000
    hedge = Hedge.fresh(["A", "B", "C"], horizon=horizon)
    mid_weights: dict[str, float] = {}
    for t, (truth, votes) in enumerate(_stream(7, rounds)):
        if t == rounds // 2:
            mid_weights = hedge.weights()
        hedge.update({name: abs(vote - truth) for name, vote in votes.items()})
    best = min(hedge.losses.values())
    bound = hedge.bound()
    assert bound == pytest.approx(regret_bound(rounds, 3, horizon=horizon))
    assert hedge.mixture_loss - best <= bound
    print(f"horizon={horizon}: hedge loss {hedge.mixture_loss:.1f}, best expert {best:.1f}, "
          f"regret {hedge.mixture_loss - best:.1f} <= bound {bound:.1f}")
    assert mid_weights["A"] > 0.9  # A is best in the first half
    final = hedge.weights()
    assert final["B"] > 0.9 and final["A"] < 0.1  # the weight moved to B after the change


def test_hedge_sleeping_expert_is_renormalised_and_charged_the_mixture() -> None:
    hedge = Hedge.fresh(["A", "B", "C"])
    assert hedge.weights(["A", "B"]) == pytest.approx({"A": 0.5, "B": 0.5})
    mixture = hedge.update({"A": 0.0, "B": 1.0, "C": None})
    assert mixture == pytest.approx(0.5)
    assert hedge.losses == pytest.approx({"A": 0.0, "B": 1.0, "C": 0.5})
    weights = hedge.weights()
    assert weights["A"] > weights["C"] > weights["B"]
    assert hedge.update({"C": None}) == 0.0 and hedge.rounds == 1
    with pytest.raises(ValueError):
        hedge.update({"A": 2.0})


def test_hedge_single_expert_and_bound_formula() -> None:
    assert Hedge.fresh(["only"]).weights() == {"only": 1.0}
    assert regret_bound(100, 1) == 0.0
    assert regret_bound(800, 4, horizon=800) == pytest.approx(math.sqrt(400 * math.log(4)))


def _scored(rng: random.Random, n: int) -> tuple[list[float], list[str]]:
    scores, labels = [], []
    for _ in range(n):
        unsafe = rng.random() < 0.3
        centre = 0.7 if unsafe else 0.3
        scores.append(min(1.0, max(0.0, rng.gauss(centre, 0.2))))
        labels.append("unsafe" if unsafe else "safe")
    return scores, labels


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_conformal_coverage_on_held_out_split(alpha: float) -> None:
    rng = random.Random(11)
    scores, labels = _scored(rng, 6000)
    calibration = calibrate(scores[:3000], labels[:3000], alpha)
    check = check_coverage(scores[3000:], labels[3000:], calibration.q)
    covered = sum(label in prediction_set(score, calibration.q)
                  for score, label in zip(scores[3000:], labels[3000:], strict=True))
    assert (check.n, check.covered) == (3000, covered)
    print(f"alpha={alpha}: q={calibration.q:.3f}, coverage {check.coverage:.3f} (target {1 - alpha}), "
          f"abstention {check.abstention_rate:.3f}")
    assert check.coverage >= 1 - alpha - 3 * check.standard_error(alpha)
    assert 0.0 < check.abstention_rate < 1.0


def test_holdout_split_is_seeded_disjoint_and_complete() -> None:
    calibration, held_out = holdout_split(10, 0.3, seed=4)
    assert len(held_out) == 3 and sorted(calibration + held_out) == list(range(10))
    assert (calibration, held_out) == holdout_split(10, 0.3, seed=4) != holdout_split(10, 0.3, seed=5)
    with pytest.raises(ValueError):
        holdout_split(1, 0.5, seed=0)


def test_conformal_edge_cases() -> None:
    assert calibrate([0.9, 0.1], ["unsafe", "safe"], 0.1).q == 1.0  # too few items: always abstain
    assert prediction_set(0.5, 1.0) == {"safe", "unsafe"}
    assert prediction_set(0.95, 0.2) == {"unsafe"}
    assert prediction_set(0.5, 0.2) == frozenset()
    with pytest.raises(ValueError):
        calibrate([0.5], ["maybe"], 0.1)
    with pytest.raises(ValueError):
        calibrate([], [], 0.1)
