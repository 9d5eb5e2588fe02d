"""Agreement of a judge with human labels, and between annotators or judges.

- :func:`binary_agreement`: a judge's binary verdicts (positive = harmful/unsafe, or refusal — consistently)
  against human labels: confusion matrix, accuracy, precision, recall (sensitivity), specificity, F1, Cohen's κ,
  AUPRC (average precision, scikit-learn's step-wise definition) when scores are given, and Wilson intervals.
  Unscored predictions (``None``) are counted separately and never as either class; ``worst_case_accuracy``
  counts them as wrong.
- :func:`agreement_by_group`: the same per category (hazard, source, ...).
- :func:`multiclass_agreement`: confusion, accuracy and κ for any label set, e.g. complied/partial/refused.
- :func:`cohen_kappa`: κ = (p_o − p_e)/(1 − p_e) for two raters (Cohen 1960).
- :func:`krippendorff_alpha`: nominal α for any number of raters with missing ratings (Krippendorff 2011).

Undefined quantities (a zero denominator) are ``None``, never 0 or NaN. Formulas: docs/judge-statistics.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from safetyscope.metrics.intervals import Z95, wilson_interval

L = TypeVar("L", bound=Hashable)
G = TypeVar("G", bound=Hashable)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Confusion:
    """The 2×2 confusion matrix over scored items (positive = the class of interest, e.g. unsafe)."""

    tp: int  # human positive, judge positive
    fp: int  # human negative, judge positive
    fn: int  # human positive, judge negative
    tn: int  # human negative, judge negative

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def positives(self) -> int:
        """Items the humans labelled positive."""
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        """Items the humans labelled negative."""
        return self.tn + self.fp

    def as_rows(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((tp, fn), (fp, tn))``: rows = human positive/negative, columns = judge positive/negative."""
        return ((self.tp, self.fn), (self.fp, self.tn))


@dataclass(frozen=True)
class BinaryAgreement:
    """A judge's binary agreement with human labels.

    ``n`` = all pairs, ``n_scored`` = pairs with a judge verdict, ``n_unscored`` = pairs without one. Every rate
    except ``worst_case_accuracy`` and ``unscored_rate`` is over the scored pairs; ``None`` when undefined
    (e.g. precision with no positive verdicts, κ when both raters used a single class, AUPRC without scores or
    without human positives). Intervals are Wilson 95% score intervals (None when their denominator is 0).
    ``auprc`` is computed over the pairs with both a verdict and a score (``n_with_scores`` of them).
    """

    n: int
    n_unscored: int
    confusion: Confusion
    accuracy: float | None
    worst_case_accuracy: float | None
    precision: float | None
    recall: float | None
    specificity: float | None
    f1: float | None
    kappa: float | None
    auprc: float | None
    n_with_scores: int
    accuracy_ci: Interval | None
    sensitivity_ci: Interval | None
    specificity_ci: Interval | None

    @property
    def n_scored(self) -> int:
        return self.confusion.n

    @property
    def unscored_rate(self) -> float | None:
        return self.n_unscored / self.n if self.n else None

    @property
    def sensitivity(self) -> float | None:
        """Recall: the share of human positives the judge called positive."""
        return self.recall

    def as_dict(self) -> dict[str, object]:
        m = self.confusion
        return {
            "n": self.n, "n_scored": self.n_scored, "n_unscored": self.n_unscored,
            "unscored_rate": self.unscored_rate,
            "confusion": {"tp": m.tp, "fp": m.fp, "fn": m.fn, "tn": m.tn},
            "accuracy": self.accuracy, "worst_case_accuracy": self.worst_case_accuracy,
            "precision": self.precision, "recall": self.recall, "specificity": self.specificity,
            "f1": self.f1, "kappa": self.kappa, "auprc": self.auprc, "n_with_scores": self.n_with_scores,
            "accuracy_ci95": _list(self.accuracy_ci), "sensitivity_ci95": _list(self.sensitivity_ci),
            "specificity_ci95": _list(self.specificity_ci),
        }


def binary_agreement(y_true: Sequence[bool], y_pred: Sequence[bool | None],
                     scores: Sequence[float | None] | None = None, *, z: float = Z95) -> BinaryAgreement:
    """Agreement of judge verdicts ``y_pred`` (``None`` = unscored) with human labels ``y_true``.

    ``scores`` (optional, aligned) are the judge's probabilities or any monotone score for the positive class;
    ``None`` scores are skipped, and pairs whose verdict is unscored are left out of AUPRC too.
    """
    _same_length(y_true, y_pred, "y_true", "y_pred")
    if scores is not None:
        _same_length(y_true, scores, "y_true", "scores")
    tp = fp = fn = tn = unscored = 0
    ranked: list[tuple[float, bool]] = []
    for i, (truth, verdict) in enumerate(zip(y_true, y_pred, strict=True)):
        _check_binary(truth, f"y_true[{i}]", allow_none=False)
        _check_binary(verdict, f"y_pred[{i}]", allow_none=True)
        if verdict is None:
            unscored += 1
            continue
        if truth:
            tp, fn = (tp + 1, fn) if verdict else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if verdict else (fp, tn + 1)
        score = None if scores is None else scores[i]
        if score is not None:
            if score != score:
                raise ValueError(f"scores[{i}] is NaN")
            ranked.append((float(score), bool(truth)))
    confusion = Confusion(tp=tp, fp=fp, fn=fn, tn=tn)
    scored = confusion.n
    total = scored + unscored
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    kappa = _kappa_from_matrix([[tp, fn], [fp, tn]])
    return BinaryAgreement(
        n=total, n_unscored=unscored, confusion=confusion,
        accuracy=_ratio(tp + tn, scored), worst_case_accuracy=_ratio(tp + tn, total),
        precision=precision, recall=recall, specificity=_ratio(tn, tn + fp), f1=f1, kappa=kappa,
        auprc=average_precision([s for s, _ in ranked], [t for _, t in ranked]) if scores is not None else None,
        n_with_scores=len(ranked),
        accuracy_ci=_wilson(tp + tn, scored, z), sensitivity_ci=_wilson(tp, tp + fn, z),
        specificity_ci=_wilson(tn, tn + fp, z),
    )


def agreement_by_group(y_true: Sequence[bool], y_pred: Sequence[bool | None], groups: Sequence[G],
                       scores: Sequence[float | None] | None = None, *, z: float = Z95) -> dict[G, BinaryAgreement]:
    """:func:`binary_agreement` per group key (hazard category, source file, ...), keys in first-seen order."""
    _same_length(y_true, y_pred, "y_true", "y_pred")
    _same_length(y_true, groups, "y_true", "groups")
    if scores is not None:
        _same_length(y_true, scores, "y_true", "scores")
    members: dict[G, list[int]] = {}
    for i, key in enumerate(groups):
        members.setdefault(key, []).append(i)
    return {
        key: binary_agreement([y_true[i] for i in index], [y_pred[i] for i in index],
                              None if scores is None else [scores[i] for i in index], z=z)
        for key, index in members.items()
    }


def average_precision(scores: Sequence[float], y_true: Sequence[bool]) -> float | None:
    """Average precision, AP = Σ_k (R_k − R_{k−1})·P_k over the distinct score thresholds, highest first.

    The step-wise (non-interpolated) definition of scikit-learn's ``average_precision_score``: items with equal
    scores enter together at one threshold. ``None`` when there are no positives.
    """
    _same_length(scores, y_true, "scores", "y_true")
    positives = sum(1 for t in y_true if t)
    if positives == 0:
        return None
    pairs = sorted(zip(scores, y_true, strict=True), key=lambda pair: pair[0], reverse=True)
    ap = 0.0
    tp = fp = 0
    previous_recall = 0.0
    i = 0
    while i < len(pairs):
        threshold = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == threshold:
            tp, fp = (tp + 1, fp) if pairs[i][1] else (tp, fp + 1)
            i += 1
        recall = tp / positives
        ap += (recall - previous_recall) * (tp / (tp + fp))
        previous_recall = recall
    return ap


@dataclass(frozen=True)
class MulticlassAgreement(Generic[L]):
    """Agreement over any label set (e.g. complied / partial / refused).

    ``matrix[i][j]`` counts items with human label ``labels[i]`` and judge label ``labels[j]`` (scored items only).
    """

    labels: tuple[L, ...]
    matrix: tuple[tuple[int, ...], ...]
    n: int
    n_unscored: int
    accuracy: float | None
    worst_case_accuracy: float | None
    kappa: float | None
    accuracy_ci: Interval | None

    @property
    def n_scored(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def unscored_rate(self) -> float | None:
        return self.n_unscored / self.n if self.n else None

    def count(self, human: L, judge: L) -> int:
        return self.matrix[self.labels.index(human)][self.labels.index(judge)]

    def recall(self, label: L) -> float | None:
        """Share of items humans labelled ``label`` that the judge also labelled ``label``."""
        i = self.labels.index(label)
        return _ratio(self.matrix[i][i], sum(self.matrix[i]))

    def precision(self, label: L) -> float | None:
        """Share of items the judge labelled ``label`` that humans also labelled ``label``."""
        j = self.labels.index(label)
        return _ratio(self.matrix[j][j], sum(row[j] for row in self.matrix))


def multiclass_agreement(y_true: Sequence[L], y_pred: Sequence[L | None], labels: Sequence[L] | None = None,
                         *, z: float = Z95) -> MulticlassAgreement[L]:
    """Confusion matrix, accuracy and Cohen's κ for judge labels ``y_pred`` (``None`` = unscored) vs humans.

    ``labels`` fixes the order (and lets absent classes appear as zero rows); by default, first-seen order over
    ``y_true`` then ``y_pred``. A label outside ``labels`` is an error.
    """
    _same_length(y_true, y_pred, "y_true", "y_pred")
    if labels is None:
        order = list(dict.fromkeys([*y_true, *(p for p in y_pred if p is not None)]))
    else:
        order = list(dict.fromkeys(labels))
    index = {label: i for i, label in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    unscored = 0
    for truth, verdict in zip(y_true, y_pred, strict=True):
        if truth is None:
            raise ValueError("y_true contains None: human labels must all be present")
        if verdict is None:
            unscored += 1
            continue
        for value in (truth, verdict):
            if value not in index:
                raise ValueError(f"label {value!r} not in labels {order!r}")
        matrix[index[truth]][index[verdict]] += 1
    scored = sum(map(sum, matrix))
    agree = sum(matrix[i][i] for i in range(len(order)))
    return MulticlassAgreement(
        labels=tuple(order), matrix=tuple(tuple(row) for row in matrix), n=scored + unscored, n_unscored=unscored,
        accuracy=_ratio(agree, scored), worst_case_accuracy=_ratio(agree, scored + unscored),
        kappa=_kappa_from_matrix(matrix), accuracy_ci=_wilson(agree, scored, z),
    )


def cohen_kappa(rater_a: Sequence[Hashable | None], rater_b: Sequence[Hashable | None]) -> float | None:
    """Cohen's κ for two raters over the same items; pairs with a ``None`` rating are skipped.

    ``None`` when undefined: no complete pairs, or p_e = 1 (both raters used one and the same class throughout).
    """
    _same_length(rater_a, rater_b, "rater_a", "rater_b")
    pairs = [(a, b) for a, b in zip(rater_a, rater_b, strict=True) if a is not None and b is not None]
    labels = list(dict.fromkeys([v for pair in pairs for v in pair]))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for a, b in pairs:
        matrix[index[a]][index[b]] += 1
    return _kappa_from_matrix(matrix)


def krippendorff_alpha(reliability_data: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's α for nominal data, any number of raters, missing ratings allowed.

    ``reliability_data`` is Krippendorff's reliability data matrix: one row per rater (coder, judge), one column
    per unit (item), ``None`` where that rater gave no rating. Units with fewer than two ratings are not pairable
    and drop out. α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k with the coincidence matrix o (each unit's
    ordered pairs of values weighted 1/(m_u − 1)). ``None`` when undefined (fewer than two pairable values, or
    all pairable values identical, so that there is no expected disagreement).
    """
    rows = [list(row) for row in reliability_data]
    if not rows:
        return None
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("every rater's row must have one entry per unit (use None for a missing rating)")
    coincidence: dict[tuple[Hashable, Hashable], float] = {}
    for unit in range(width):
        values = [row[unit] for row in rows if row[unit] is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    coincidence[(c, k)] = coincidence.get((c, k), 0.0) + pairs / (m - 1)
    marginals: dict[Hashable, float] = {}
    for (c, _), weight in coincidence.items():
        marginals[c] = marginals.get(c, 0.0) + weight
    n = sum(marginals.values())
    if n < 2:
        return None
    observed = sum(weight for (c, k), weight in coincidence.items() if c != k)
    expected = n * n - sum(n_c * n_c for n_c in marginals.values())  # Σ_{c≠k} n_c·n_k
    if expected <= 0:
        return None
    return 1 - (n - 1) * observed / expected


# ----------------------------------------------------------------------------------------------------------------


def _kappa_from_matrix(matrix: Sequence[Sequence[int]]) -> float | None:
    """κ = (p_o − p_e)/(1 − p_e) = (n·Σ_i m_ii − Σ_i r_i·c_i)/(n² − Σ_i r_i·c_i), in exact integers until the end."""
    n = sum(map(sum, matrix))
    size = len(matrix)
    agree = sum(matrix[i][i] for i in range(size))
    chance = sum(sum(matrix[i]) * sum(row[i] for row in matrix) for i in range(size))  # n²·p_e
    if n == 0 or chance == n * n:
        return None
    return (n * agree - chance) / (n * n - chance)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _wilson(successes: int, n: int, z: float) -> Interval | None:
    return wilson_interval(successes, n, z) if n else None


def _list(interval: Interval | None) -> list[float] | None:
    return list(interval) if interval is not None else None


def _same_length(a: Sequence[object], b: Sequence[object], name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b} differ in length: {len(a)} != {len(b)}")


def _check_binary(value: object, name: str, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if value is None or not isinstance(value, (bool, int)) or value not in (0, 1):
        raise ValueError(f"{name}={value!r} is not a binary label (True/False or 1/0)")
