"""Judge-error-corrected prevalence: Rogan–Gladen, its delta-method variance, Lang–Reiczigel and bootstrap intervals.

A judge with sensitivity Se and specificity Sp turns a true positive rate π into an apparent rate
``p = π·Se + (1 − π)(1 − Sp)``. Solving for π gives the Rogan–Gladen estimator. Se and Sp come from a
human-labelled validation set (``n_se`` truly positive items, ``n_sp`` truly negative ones) and are uncertain
themselves; the intervals here account for that. Formulas and sources: docs/judge-statistics.md (judges.md §11).

- Rogan & Gladen (1978): ``π̂ = (p̂ + Sp − 1)/(Se + Sp − 1)``, clipped to [0, 1]; needs Se + Sp > 1.
- Delta method (Lang & Reiczigel 2014, eq. 4, with the (1 − π̂)² correction noted in R ``asht::prevSeSp``):
  ``Var(π̂) ≈ [p̂(1−p̂)/n + π̂²·Se(1−Se)/n_se + (1−π̂)²·Sp(1−Sp)/n_sp] / (Se+Sp−1)²``.
- Lang–Reiczigel adjusted interval, transcribed from ``asht::prevSeSp``: add-one/add-z²/2 adjusted Se′, Sp′, p′,
  a bias shift dπ, and a Wald interval on the adjusted quantities, clipped to [0, 1].
- Bootstrap: resample the main sample, the validation positives and the validation negatives independently,
  recompute π̂, take percentiles (Efron & Tibshirani 1993).

Everything is pure standard library (``math``, ``random``, ``statistics.NormalDist``).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safetyscope.metrics.agreement import BinaryAgreement


class UncorrectableError(ValueError):
    """The judge cannot be corrected for: Se + Sp ≤ 1, or an empty validation / main sample."""


class Method(StrEnum):
    """How the interval of a :class:`CorrectedRate` was computed."""

    LANG_REICZIGEL = "lang-reiczigel"
    BOOTSTRAP = "bootstrap"
    WALD = "wald"  # delta-method Wald interval; known to under-cover, for comparison only


@dataclass(frozen=True)
class JudgeValidation:
    """A judge's accuracy on human-labelled items.

    ``se_hits`` of the ``n_se`` truly positive items were judged positive (Se = se_hits / n_se);
    ``sp_hits`` of the ``n_sp`` truly negative items were judged negative (Sp = sp_hits / n_sp).
    Unscored validation items must be left out (they are neither).
    """

    se_hits: int
    n_se: int
    sp_hits: int
    n_sp: int

    def __post_init__(self) -> None:
        if not 0 <= self.se_hits <= self.n_se:
            raise ValueError(f"se_hits={self.se_hits} outside 0..n_se={self.n_se}")
        if not 0 <= self.sp_hits <= self.n_sp:
            raise ValueError(f"sp_hits={self.sp_hits} outside 0..n_sp={self.n_sp}")

    @property
    def se(self) -> float | None:
        return self.se_hits / self.n_se if self.n_se else None

    @property
    def sp(self) -> float | None:
        return self.sp_hits / self.n_sp if self.n_sp else None

    @property
    def youden(self) -> float | None:
        """Se + Sp − 1, the denominator of every correction; must be > 0."""
        se, sp = self.se, self.sp
        return None if se is None or sp is None else se + sp - 1

    @classmethod
    def from_agreement(cls, agreement: BinaryAgreement) -> JudgeValidation:
        """Se and Sp from a judge-vs-human :class:`~safetyscope.metrics.agreement.BinaryAgreement` (scored items)."""
        m = agreement.confusion
        return cls(se_hits=m.tp, n_se=m.tp + m.fn, sp_hits=m.tn, n_sp=m.tn + m.fp)

    def require(self) -> tuple[float, float]:
        """``(Se, Sp)``, or :class:`UncorrectableError` when a validation arm is empty or Se + Sp ≤ 1."""
        se, sp = self.se, self.sp
        if se is None or sp is None:
            raise UncorrectableError(
                f"empty validation: n_se={self.n_se} truly positive, n_sp={self.n_sp} truly negative items; "
                "both are needed to estimate Se and Sp")
        _check_youden(se, sp)
        return se, sp


@dataclass(frozen=True)
class CorrectedRate:
    """A judged rate corrected for judge error.

    ``apparent`` = k / n (the judge-positive share); ``corrected`` = the Rogan–Gladen estimate clipped to [0, 1];
    ``interval`` = the confidence interval by ``method``; ``std_error`` = √ of the delta-method variance.
    When the judge cannot be corrected for (``correctable`` False: Se + Sp ≤ 1, empty validation, n = 0)
    ``corrected``, ``interval`` and ``std_error`` are None and ``reason`` says why.
    ``bootstrap_dropped`` counts bootstrap replicates with Se* + Sp* ≤ 1 (left out of the percentiles).
    """

    k: int
    n: int
    validation: JudgeValidation
    method: Method
    confidence: float
    apparent: float | None
    corrected: float | None
    interval: tuple[float, float] | None
    std_error: float | None
    reason: str | None = None
    bootstrap_replicates: int | None = None
    bootstrap_dropped: int | None = None

    @property
    def correctable(self) -> bool:
        return self.reason is None

    @property
    def se(self) -> float | None:
        return self.validation.se

    @property
    def sp(self) -> float | None:
        return self.validation.sp

    def as_dict(self) -> dict[str, object]:
        v = self.validation
        return {
            "k": self.k, "n": self.n, "correctable": self.correctable, "apparent": self.apparent,
            "corrected": self.corrected,
            "interval": list(self.interval) if self.interval else None, "method": self.method.value,
            "confidence": self.confidence, "std_error": self.std_error, "reason": self.reason,
            "se": v.se, "n_se": v.n_se, "sp": v.sp, "n_sp": v.n_sp,
            "bootstrap_replicates": self.bootstrap_replicates, "bootstrap_dropped": self.bootstrap_dropped,
        }


def z_value(confidence: float) -> float:
    """The two-sided standard-normal critical value, e.g. 1.95996 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def rogan_gladen(apparent: float, se: float, sp: float, *, clip: bool = True) -> float:
    """Rogan–Gladen estimate ``(p + Sp − 1)/(Se + Sp − 1)``, clipped to [0, 1] unless ``clip=False``.

    Raises :class:`UncorrectableError` when Se + Sp ≤ 1 (the judge is no better than chance, or inverted).
    """
    for name, value in (("apparent", apparent), ("se", se), ("sp", sp)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}={value} outside [0, 1]")
    _check_youden(se, sp)
    estimate = (apparent + sp - 1) / (se + sp - 1)
    return min(1.0, max(0.0, estimate)) if clip else estimate


def delta_variance(k: int, n: int, validation: JudgeValidation) -> float:
    """Delta-method variance of the Rogan–Gladen estimate, including Se/Sp sampling error.

    Evaluated at the unclipped estimate π̂ (as ``asht::prevSeSp`` does for its primed version).
    """
    _check_counts(k, n)
    se, sp = validation.require()
    p = k / n
    pi = (p + sp - 1) / (se + sp - 1)
    return _delta(p, n, pi, se, validation.n_se, sp, validation.n_sp)


def lang_reiczigel_interval(k: int, n: int, validation: JudgeValidation,
                            confidence: float = 0.95) -> tuple[float, float]:
    """Lang & Reiczigel (2014) adjusted confidence interval, exactly as R ``asht::prevSeSp`` computes it.

    With z the critical value: Se′ = (n_se·Se + 1)/(n_se + 2), Sp′ = (n_sp·Sp + 1)/(n_sp + 2), n_se′ = n_se + 2,
    n_sp′ = n_sp + 2, p′ = (n·p̂ + z²/2)/(n + z²), n′ = n + z², π′ = (p′ + Sp′ − 1)/(Se′ + Sp′ − 1),
    dπ = 2z²[π′Se′(1−Se′)/n_se′ − (1−π′)Sp′(1−Sp′)/n_sp′], Var′ = the delta variance with primed quantities;
    interval = π′ + dπ ± z√Var′, both ends clipped to [0, 1].

    R's ``prevSeSp`` only raises a negative lower end to 0 and lowers an upper end above 1; here both ends are
    clipped, so that an apparent rate far below the judge's estimated false-positive rate 1 − Sp (e.g. k = 0 with
    Sp = 0.95) gives the degenerate (0, 0) instead of an interval with its upper end below 0. Such a result says
    the validation set's Sp is at odds with the data; report it with the validation counts.
    """
    _check_counts(k, n)
    se, sp = validation.require()
    z = z_value(confidence)
    z2 = z * z
    n_se_, n_sp_ = validation.n_se + 2, validation.n_sp + 2
    se_ = (validation.n_se * se + 1) / n_se_
    sp_ = (validation.n_sp * sp + 1) / n_sp_
    n_ = n + z2
    p_ = (n * (k / n) + z2 / 2) / n_
    if se_ + sp_ - 1 <= 0:  # possible only for tiny validation sets with Se + Sp barely above 1
        raise UncorrectableError(f"adjusted Se′ + Sp′ = {se_ + sp_:.4f} ≤ 1: the validation set is too small")
    pi_ = (p_ + sp_ - 1) / (se_ + sp_ - 1)
    shift = 2 * z2 * (pi_ * se_ * (1 - se_) / n_se_ - (1 - pi_) * sp_ * (1 - sp_) / n_sp_)
    half = z * math.sqrt(_delta(p_, n_, pi_, se_, n_se_, sp_, n_sp_))
    centre = pi_ + shift
    return (_clip(centre - half), _clip(centre + half))


def wald_interval(k: int, n: int, validation: JudgeValidation, confidence: float = 0.95) -> tuple[float, float]:
    """Plain delta-method Wald interval π̂ ± z·√Var, clipped; under-covers (shown for comparison)."""
    _check_counts(k, n)
    se, sp = validation.require()
    pi = (k / n + sp - 1) / (se + sp - 1)
    half = z_value(confidence) * math.sqrt(delta_variance(k, n, validation))
    return (_clip(pi - half), _clip(pi + half))


@dataclass(frozen=True)
class BootstrapInterval:
    """A percentile bootstrap interval and the replicate bookkeeping."""

    low: float
    high: float
    replicates: int
    dropped: int  # replicates with Se* + Sp* ≤ 1, left out


def bootstrap_interval(k: int, n: int, validation: JudgeValidation, *, confidence: float = 0.95,
                       replicates: int = 2000, seed: int | None = 0) -> BootstrapInterval:
    """Percentile bootstrap interval for the clipped Rogan–Gladen estimate.

    Each replicate resamples, independently, the n main-sample items (k* ~ Binomial(n, k/n)), the n_se validation
    positives (Se* ~ Binomial(n_se, Se)/n_se) and the n_sp validation negatives (Sp* ~ Binomial(n_sp, Sp)/n_sp) —
    resampling binary items with replacement is exactly a binomial draw at the observed proportion — and recomputes
    π̂*. Replicates with Se* + Sp* ≤ 1 have no estimate and are dropped (counted in ``dropped``). Percentiles use
    linear interpolation between order statistics (R type 7 / numpy default). Seeded: same inputs, same interval.
    """
    _check_counts(k, n)
    validation.require()
    if replicates < 2:
        raise ValueError(f"replicates must be ≥ 2, got {replicates}")
    alpha = 1 - confidence
    if not 0 < alpha < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = random.Random(seed)
    main = _Binomial(n, k / n)
    pos = _Binomial(validation.n_se, validation.se_hits / validation.n_se)
    neg = _Binomial(validation.n_sp, validation.sp_hits / validation.n_sp)
    estimates: list[float] = []
    for _ in range(replicates):
        p = main.draw(rng) / n
        se = pos.draw(rng) / validation.n_se
        sp = neg.draw(rng) / validation.n_sp
        if se + sp - 1 <= 0:
            continue
        estimates.append(min(1.0, max(0.0, (p + sp - 1) / (se + sp - 1))))
    dropped = replicates - len(estimates)
    if len(estimates) < 2:
        raise UncorrectableError(f"{dropped} of {replicates} bootstrap replicates had Se* + Sp* ≤ 1")
    estimates.sort()
    return BootstrapInterval(_quantile(estimates, alpha / 2), _quantile(estimates, 1 - alpha / 2),
                             replicates, dropped)


def corrected_prevalence(k: int, n: int, validation: JudgeValidation, *,
                         method: Method | str = Method.LANG_REICZIGEL, confidence: float = 0.95,
                         replicates: int = 2000, seed: int | None = 0) -> CorrectedRate:
    """The judged rate k/n corrected for judge error, with its interval; never raises for uncorrectable inputs.

    Se + Sp ≤ 1, an empty validation arm or n = 0 give a result with ``correctable`` False, ``corrected`` and
    ``interval`` None and a ``reason``. Invalid counts (k > n, negatives) still raise ``ValueError``.
    """
    method = Method(method)
    _check_counts(k, n, allow_empty=True)
    z_value(confidence)  # validates
    apparent = k / n if n else None

    def uncorrectable(reason: str) -> CorrectedRate:
        return CorrectedRate(k=k, n=n, validation=validation, method=method, confidence=confidence,
                             apparent=apparent, corrected=None, interval=None, std_error=None, reason=reason)

    if apparent is None:
        return uncorrectable("empty main sample (n = 0)")
    try:
        se, sp = validation.require()
    except UncorrectableError as error:
        return uncorrectable(str(error))
    corrected = rogan_gladen(apparent, se, sp)
    std_error = math.sqrt(delta_variance(k, n, validation))
    replicates_used: int | None = None
    dropped: int | None = None
    try:
        if method is Method.LANG_REICZIGEL:
            interval = lang_reiczigel_interval(k, n, validation, confidence)
        elif method is Method.WALD:
            interval = wald_interval(k, n, validation, confidence)
        else:
            boot = bootstrap_interval(k, n, validation, confidence=confidence, replicates=replicates, seed=seed)
            interval, replicates_used, dropped = (boot.low, boot.high), boot.replicates, boot.dropped
    except UncorrectableError as error:
        return uncorrectable(str(error))
    return CorrectedRate(k=k, n=n, validation=validation, method=method, confidence=confidence,
                         apparent=apparent, corrected=corrected, interval=interval, std_error=std_error,
                         bootstrap_replicates=replicates_used, bootstrap_dropped=dropped)


# ----------------------------------------------------------------------------------------------------------------


def _check_youden(se: float, sp: float) -> None:
    if se + sp <= 1:
        raise UncorrectableError(
            f"Se + Sp = {se:.4f} + {sp:.4f} ≤ 1: the judge is no better than chance on the validation set, "
            "so its rate cannot be corrected")


def _check_counts(k: int, n: int, *, allow_empty: bool = False) -> None:
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"k={k} outside 0..n={n}")
    if n == 0 and not allow_empty:
        raise UncorrectableError("empty main sample (n = 0)")


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def _delta(p: float, n: float, pi: float, se: float, n_se: float, sp: float, n_sp: float) -> float:
    return (p * (1 - p) / n + pi * pi * se * (1 - se) / n_se
            + (1 - pi) ** 2 * sp * (1 - sp) / n_sp) / (se + sp - 1) ** 2


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolation quantile of sorted data (R type 7)."""
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


class _Binomial:
    """Exact Binomial(n, p) sampler by inversion of a precomputed CDF: O(n) once, then O(log n) per draw."""

    def __init__(self, n: int, p: float) -> None:
        self.n = n
        self.constant: int | None = None
        if p <= 0.0:
            self.constant = 0
        elif p >= 1.0:
            self.constant = n
        else:
            log_p, log_q = math.log(p), math.log1p(-p)
            log_n = math.lgamma(n + 1)
            pmf = (math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
                   for i in range(n + 1))
            self.cdf = list(accumulate(pmf))

    def draw(self, rng: random.Random) -> int:
        if self.constant is not None:
            return self.constant
        return min(bisect_right(self.cdf, rng.random() * self.cdf[-1]), self.n)
