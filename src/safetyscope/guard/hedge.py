"""Hedge (exponential weights) over the guard's experts, learned online from feedback.

Each expert ``i`` has a cumulative loss ``L_i``; before round ``t`` its weight is
``w_i ∝ exp(−η_t · L_i)``. The ensemble predicts with the weighted mixture of the expert scores, and its loss
on a round is the weighted average ``Σ_i w_i ℓ_i`` of the experts' losses ``ℓ_i ∈ [0, 1]`` (for 0/1 votes this
equals the absolute loss ``|Σ_i w_i v_i − y|`` of the mixture score).

Learning rate and regret (Cesa-Bianchi & Lugosi, *Prediction, Learning, and Games*, 2006, Thm 2.2 and 2.3),
for ``N`` experts and ``T`` rounds, losses in [0, 1]:

- known horizon ``T`` (``horizon=T``): ``η = sqrt(8 ln N / T)``, and
  ``L_hedge − min_i L_i ≤ sqrt((T / 2) · ln N)``;
- unknown horizon (default): ``η_t = sqrt(8 ln N / t)`` at round ``t`` (an anytime schedule in place of
  the doubling trick, so learned weights are never reset), and
  ``L_hedge − min_i L_i ≤ 2 · sqrt((T / 2) · ln N) + sqrt(ln N / 8)``.

An expert that did not vote on a round (timed out, failed, unscored, or not applicable to the direction) is
*asleep*: the weights are renormalised over the awake experts and the sleeping expert is charged the
ensemble's own loss for that round (the sleeping-experts reduction of Freund, Schapire, Singer & Warmuth,
1997). The bounds then hold against each expert with its sleeping rounds scored as the ensemble's loss.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


def regret_bound(rounds: int, experts: int, *, horizon: int | None = None) -> float:
    """The regret bound after ``rounds`` rounds (see the module docstring)."""
    if experts <= 1 or rounds <= 0:
        return 0.0
    log_n = math.log(experts)
    if horizon is not None:
        return math.sqrt(horizon / 2.0 * log_n)
    return 2.0 * math.sqrt(rounds / 2.0 * log_n) + math.sqrt(log_n / 8.0)


@dataclass
class Hedge:
    """Exponential weights over named experts; the state is the cumulative losses and the round count."""

    experts: tuple[str, ...]
    losses: dict[str, float]
    rounds: int = 0
    mixture_loss: float = 0.0
    horizon: int | None = None

    @classmethod
    def fresh(cls, experts: Sequence[str], *, horizon: int | None = None) -> Hedge:
        """Uniform weights, no rounds."""
        if not experts:
            raise ValueError("Hedge needs at least one expert")
        if horizon is not None and horizon < 1:
            raise ValueError("horizon must be at least 1")
        return cls(experts=tuple(experts), losses=dict.fromkeys(experts, 0.0), horizon=horizon)

    def eta(self) -> float:
        """The learning rate for the next round: ``sqrt(8 ln N / T)`` or ``sqrt(8 ln N / t)``."""
        n = len(self.experts)
        if n <= 1:
            return 0.0
        steps = self.horizon if self.horizon is not None else self.rounds + 1
        return math.sqrt(8.0 * math.log(n) / steps)

    def weights(self, awake: Collection[str] | None = None) -> dict[str, float]:
        """Normalised weights over ``awake`` experts (all when None); empty when none is awake."""
        names = [name for name in self.experts if awake is None or name in awake]
        if not names:
            return {}
        eta = self.eta()
        low = min(self.losses[name] for name in names)
        raw = {name: math.exp(-eta * (self.losses[name] - low)) for name in names}
        total = sum(raw.values())
        return {name: value / total for name, value in raw.items()}

    def update(self, losses: Mapping[str, float | None]) -> float:
        """One round: ``losses[name]`` in [0, 1], or None (or missing) for an expert that was asleep.

        Returns the ensemble's (mixture) loss for the round; with no awake expert nothing changes and 0 is
        returned."""
        awake = {name: float(loss) for name, loss in losses.items() if loss is not None and name in self.losses}
        for loss in awake.values():
            if not 0.0 <= loss <= 1.0:
                raise ValueError(f"losses must lie in [0, 1], not {loss}")
        if not awake:
            return 0.0
        weights = self.weights(awake)
        mixture = sum(weights[name] * awake[name] for name in awake)
        for name in self.experts:
            self.losses[name] += awake.get(name, mixture)
        self.rounds += 1
        self.mixture_loss += mixture
        return mixture

    def regret(self) -> float:
        """The ensemble's cumulative loss minus the best expert's."""
        return self.mixture_loss - min(self.losses.values())

    def bound(self) -> float:
        """The regret bound for the rounds so far."""
        return regret_bound(self.rounds, len(self.experts), horizon=self.horizon)
