"""Split-conformal abstention for a binary guard.

The ensemble gives a score ``s = P̂(unsafe)``. On a labelled calibration set the nonconformity of an item is
``1 − P̂(true label)`` (``1 − s`` for unsafe items, ``s`` for safe ones). With ``n`` calibration items and
``k = ⌈(n + 1)(1 − α)⌉``, the threshold ``q`` is the ``k``-th smallest nonconformity (``q = 1`` when
``k > n``: every set then holds both labels). At run time the prediction set is
``C(x) = {y : 1 − P̂(y | x) ≤ q}``, i.e. ``unsafe ∈ C`` iff ``s ≥ 1 − q`` and ``safe ∈ C`` iff ``s ≤ q``.
Under exchangeability of calibration and test items, ``P(y ∈ C(x)) ≥ 1 − α`` (Vovk et al. 2005; Angelopoulos
& Bates 2021). A set with one label decides; a set with both labels (or none) abstains: the guard answers
``review``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

SAFE = "safe"
UNSAFE = "unsafe"


class ConformalCalibration(BaseModel):
    """A calibrated threshold, stored in the policy (``conformal:``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(gt=0.0, lt=1.0, description="Target miscoverage: the set holds the label w.p. ≥ 1 − α.")
    q: float = Field(ge=0.0, le=1.0, description="Nonconformity threshold.")
    n: int = Field(ge=1, description="Calibration items.")


def calibrate(scores: Sequence[float], labels: Sequence[str | bool | int], alpha: float) -> ConformalCalibration:
    """The split-conformal threshold for ``scores`` (P̂(unsafe)) and true ``labels`` ('unsafe'/'safe', or
    truthy = unsafe)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must lie strictly between 0 and 1")
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length")
    if not scores:
        raise ValueError("calibration needs at least one labelled item")
    nonconformity: list[float] = []
    for score, label in zip(scores, labels, strict=True):
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"scores must lie in [0, 1], not {score}")
        nonconformity.append(1.0 - score if is_unsafe(label) else score)
    n = len(nonconformity)
    k = math.ceil((n + 1) * (1.0 - alpha))
    q = 1.0 if k > n else sorted(nonconformity)[k - 1]
    return ConformalCalibration(alpha=alpha, q=q, n=n)


def is_unsafe(label: str | bool | int) -> bool:
    """Whether a label means unsafe."""
    if isinstance(label, str):
        value = label.strip().lower()
        if value not in (SAFE, UNSAFE):
            raise ValueError(f"label must be 'safe' or 'unsafe', not {label!r}")
        return value == UNSAFE
    return bool(label)


def prediction_set(score: float, q: float) -> frozenset[str]:
    """``{y : 1 − P̂(y) ≤ q}`` for ``score = P̂(unsafe)``."""
    labels: set[str] = set()
    if 1.0 - score <= q:
        labels.add(UNSAFE)
    if score <= q:
        labels.add(SAFE)
    return frozenset(labels)


@dataclass(frozen=True)
class CoverageCheck:
    """How a calibrated threshold did on held-out labelled items."""

    n: int
    covered: int
    """Items whose prediction set holds their true label."""
    abstained: int
    """Items whose set holds both labels (or none): ``review``."""

    @property
    def coverage(self) -> float:
        return self.covered / self.n

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.n

    def standard_error(self, alpha: float) -> float:
        """The binomial standard error of the coverage if it were exactly ``1 − alpha``."""
        return math.sqrt(alpha * (1.0 - alpha) / self.n)


def check_coverage(scores: Sequence[float], labels: Sequence[str | bool | int], q: float) -> CoverageCheck:
    """Empirical coverage and abstention of the threshold ``q`` on held-out ``scores`` and true ``labels``."""
    if not scores or len(scores) != len(labels):
        raise ValueError("coverage needs as many labels as scores, at least one")
    covered = abstained = 0
    for score, label in zip(scores, labels, strict=True):
        chosen = prediction_set(score, q)
        covered += (UNSAFE if is_unsafe(label) else SAFE) in chosen
        abstained += len(chosen) != 1
    return CoverageCheck(n=len(scores), covered=covered, abstained=abstained)


def holdout_split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded split of ``range(n)`` into (calibration, held-out) indices, ``fraction`` of them held out."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must lie strictly between 0 and 1")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut = n - max(1, round(n * fraction))
    if cut < 1:
        raise ValueError(f"{n} items are too few to hold {fraction:.0%} out")
    return sorted(order[:cut]), sorted(order[cut:])
