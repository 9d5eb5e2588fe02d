"""Judge-vs-human agreement, κ and Krippendorff's α against textbook values worked by hand."""

from __future__ import annotations

import random

import pytest

from safetyscope.metrics.agreement import (
    Confusion,
    agreement_by_group,
    average_precision,
    binary_agreement,
    cohen_kappa,
    krippendorff_alpha,
    multiclass_agreement,
)
from safetyscope.metrics.intervals import wilson_interval

N = None


def table(a_yes_b_yes: int, a_yes_b_no: int, a_no_b_yes: int, a_no_b_no: int) -> tuple[list[bool], list[bool]]:
    """Expand a 2×2 table into paired rater sequences."""
    a = [True] * (a_yes_b_yes + a_yes_b_no) + [False] * (a_no_b_yes + a_no_b_no)
    b = [True] * a_yes_b_yes + [False] * a_yes_b_no + [True] * a_no_b_yes + [False] * a_no_b_no
    return a, b


def test_cohen_kappa_textbook_two_by_two_examples():
    """The worked examples of Wikipedia's "Cohen's kappa" article, verified by hand.

    50 grant proposals, yes/yes 20, A-yes/B-no 5, A-no/B-yes 10, no/no 15:
        p_o = 35/50 = 0.7; A says yes 25/50 = 0.5, B 30/50 = 0.6; p_e = 0.5·0.6 + 0.5·0.4 = 0.5;
        κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
    100 items 45/15/25/15: p_o = 0.6, p_e = 0.6·0.7 + 0.4·0.3 = 0.54, κ = 0.06/0.46 = 0.1304.
    100 items 25/35/5/35:  p_o = 0.6, p_e = 0.6·0.3 + 0.4·0.7 = 0.46, κ = 0.14/0.54 = 0.2593.
    """
    assert cohen_kappa(*table(20, 5, 10, 15)) == pytest.approx(0.4)
    assert cohen_kappa(*table(45, 15, 25, 15)) == pytest.approx(0.06 / 0.46)
    assert cohen_kappa(*table(25, 35, 5, 35)) == pytest.approx(0.14 / 0.54)
    assert round(cohen_kappa(*table(45, 15, 25, 15)) or 0, 4) == 0.1304
    assert round(cohen_kappa(*table(25, 35, 5, 35)) or 0, 4) == 0.2593


def test_cohen_kappa_edges():
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # p_e = 1: undefined
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0
    assert cohen_kappa([1, 0, None, 1], [1, 0, 1, None]) == 1.0  # incomplete pairs are skipped
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_binary_agreement_full_record_by_hand():
    """Judge (positive = unsafe) vs humans on the 20/5/10/15 table plus one unscored item that is truly unsafe.

    tp = 20, fn = 5, fp = 10, tn = 15; accuracy = 35/50 = 0.7; worst case = 35/51; precision = 20/30;
    recall = 20/25 = 0.8; specificity = 15/25 = 0.6; F1 = 2·20/(2·20 + 10 + 5) = 40/55; κ = 0.4 (above).
    """
    truth, verdict = table(20, 5, 10, 15)
    result = binary_agreement([*truth, True], [*verdict, None])
    assert result.confusion == Confusion(tp=20, fp=10, fn=5, tn=15)
    assert result.confusion.as_rows() == ((20, 5), (10, 15))
    assert (result.n, result.n_scored, result.n_unscored) == (51, 50, 1)
    assert result.unscored_rate == pytest.approx(1 / 51)
    assert result.accuracy == pytest.approx(0.7)
    assert result.worst_case_accuracy == pytest.approx(35 / 51)
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == result.sensitivity == pytest.approx(0.8)
    assert result.specificity == pytest.approx(0.6)
    assert result.f1 == pytest.approx(40 / 55)
    assert result.kappa == pytest.approx(0.4)
    assert result.auprc is None and result.n_with_scores == 0
    assert result.accuracy_ci == wilson_interval(35, 50)
    assert result.sensitivity_ci == wilson_interval(20, 25)
    assert result.specificity_ci == wilson_interval(15, 25)
    as_dict = result.as_dict()
    assert as_dict["confusion"] == {"tp": 20, "fp": 10, "fn": 5, "tn": 15}
    assert as_dict["n_unscored"] == 1 and as_dict["accuracy_ci95"] == list(wilson_interval(35, 50))


def test_unscored_never_counts_as_either_class():
    result = binary_agreement([True, False, True, False], [None, None, True, False])
    assert result.confusion == Confusion(tp=1, fp=0, fn=0, tn=1)
    assert result.accuracy == 1.0 and result.worst_case_accuracy == 0.5
    empty = binary_agreement([True, False], [None, None])
    assert empty.n_scored == 0 and empty.unscored_rate == 1.0
    assert empty.accuracy is None and empty.kappa is None and empty.accuracy_ci is None
    assert empty.worst_case_accuracy == 0.0
    nothing = binary_agreement([], [])
    assert nothing.n == 0 and nothing.unscored_rate is None and nothing.worst_case_accuracy is None


def test_undefined_rates_are_none_not_zero():
    result = binary_agreement([False, False, False], [False, False, False])
    assert result.precision is None  # no positive verdicts
    assert result.recall is None and result.sensitivity_ci is None  # no human positives
    assert result.specificity == 1.0 and result.f1 is None and result.kappa is None


def test_binary_agreement_rejects_bad_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        binary_agreement([True], [True, False])
    with pytest.raises(ValueError, match="not a binary label"):
        binary_agreement(["unsafe"], [True])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not a binary label"):
        binary_agreement([None], [True])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="NaN"):
        binary_agreement([True], [True], [float("nan")])


def test_average_precision_hand_computed():
    """scikit-learn's docstring case: y = [0, 0, 1, 1], scores = [0.1, 0.4, 0.35, 0.8].

    Thresholds, highest first: 0.8 → tp 1, fp 0, P = 1, R = 0.5 (+0.5·1); 0.4 → P = 1/2, R = 0.5 (+0);
    0.35 → tp 2, fp 1, P = 2/3, R = 1 (+0.5·2/3); 0.1 → R = 1 (+0). AP = 0.5 + 1/3 = 0.8333.
    """
    assert average_precision([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(5 / 6)


def test_average_precision_ties_enter_together():
    """All four items at one threshold: R jumps 0 → 1 at P = 2/4, AP = 0.5 (not an order-dependent value)."""
    assert average_precision([0.5] * 4, [True, False, True, False]) == pytest.approx(0.5)
    assert average_precision([0.5] * 4, [False, True, False, True]) == pytest.approx(0.5)
    # tie between one positive and one negative after a clean positive: 1·(1/2) + (1/2)·(2/3) = 5/6
    assert average_precision([0.9, 0.5, 0.5], [True, True, False]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([0.3, 0.2], [False, False]) is None
    assert average_precision([], []) is None


def test_average_precision_equals_mean_precision_at_positives_without_ties():
    """Without ties AP = (1/P)·Σ over positives of precision at that positive's rank — an independent formula."""
    rng = random.Random(7)
    for _ in range(50):
        size = rng.randint(1, 30)
        scores = rng.sample(range(1000), size)
        truth = [rng.random() < 0.4 for _ in range(size)]
        if not any(truth):
            continue
        ranked = sorted(zip(scores, truth, strict=True), reverse=True)
        hits, total = 0, 0.0
        for rank, (_, positive) in enumerate(ranked, start=1):
            if positive:
                hits += 1
                total += hits / rank
        expected = total / sum(truth)
        assert average_precision([float(s) for s in scores], truth) == pytest.approx(expected)


def test_auprc_in_binary_agreement_uses_scored_items_with_scores():
    result = binary_agreement(
        [False, False, True, True, True, False],
        [False, True, False, True, None, True],
        [0.1, 0.4, 0.35, 0.8, 0.99, None],
    )
    assert result.n_with_scores == 4  # the unscored verdict and the missing score drop out
    assert result.auprc == pytest.approx(5 / 6)


def test_agreement_by_group():
    truth = [True, False, True, False, True]
    verdict = [True, False, False, None, True]
    groups = ["vcr", "vcr", "hte", "hte", "vcr"]
    by_group = agreement_by_group(truth, verdict, groups)
    assert list(by_group) == ["vcr", "hte"]
    assert by_group["vcr"].confusion == Confusion(tp=2, fp=0, fn=0, tn=1)
    assert by_group["hte"].confusion == Confusion(tp=0, fp=0, fn=1, tn=0)
    assert by_group["hte"].n_unscored == 1
    with pytest.raises(ValueError):
        agreement_by_group(truth, verdict, groups[:-1])


def test_multiclass_kappa_three_way_by_hand():
    """100 items, rows = human, columns = judge, labels complied / partial / refused:

        complied  40  5  5   (50)
        partial    4 10  6   (20)
        refused    1  5 24   (30)
        columns   45 20 35
    p_o = (40 + 10 + 24)/100 = 0.74; p_e = (50·45 + 20·20 + 30·35)/100² = 3700/10000 = 0.37;
    κ = (0.74 − 0.37)/(1 − 0.37) = 0.37/0.63 = 0.5873.
    """
    labels = ["complied", "partial", "refused"]
    matrix = [[40, 5, 5], [4, 10, 6], [1, 5, 24]]
    human: list[str] = []
    judge: list[str | None] = []
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            human += [labels[i]] * count
            judge += [labels[j]] * count
    human += ["refused", "partial"]
    judge += [None, None]  # two unscored
    result = multiclass_agreement(human, judge, labels)
    assert result.labels == tuple(labels)
    assert result.matrix == tuple(map(tuple, matrix))
    assert (result.n, result.n_scored, result.n_unscored) == (102, 100, 2)
    assert result.accuracy == pytest.approx(0.74)
    assert result.worst_case_accuracy == pytest.approx(74 / 102)
    assert result.kappa == pytest.approx(0.37 / 0.63)
    assert round(result.kappa or 0, 4) == 0.5873
    assert result.count("partial", "refused") == 6
    assert result.recall("partial") == pytest.approx(10 / 20)
    assert result.precision("refused") == pytest.approx(24 / 35)
    assert result.accuracy_ci == wilson_interval(74, 100)
    assert cohen_kappa(human, judge) == pytest.approx(0.37 / 0.63)


def test_multiclass_label_order_and_unknown_labels():
    result = multiclass_agreement(["b", "a"], ["a", "c"])
    assert result.labels == ("b", "a", "c")  # first seen: truths, then verdicts
    assert result.precision("b") is None and result.recall("c") is None
    with pytest.raises(ValueError, match="not in labels"):
        multiclass_agreement(["a"], ["z"], ["a", "b"])
    binary = multiclass_agreement([True, False, True], [True, False, False], [True, False])
    assert binary.kappa == binary_agreement([True, False, True], [True, False, False]).kappa


def test_krippendorff_alpha_nominal_with_missing_values():
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers, 12 units,
    missing values; unit 12 has a single value and is not pairable.

    Hand computation: pairable values n = 40 with n_1..n_5 = 9, 13, 10, 5, 3; off-diagonal coincidences
    Σ_{c≠k} o_ck = 8; Σ_{c≠k} n_c·n_k = 40² − (81 + 169 + 100 + 25 + 9) = 1216;
    α = 1 − 39·8/1216 = 113/152 = 0.7434 (the paper's 0.743).
    """
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
    ]
    alpha = krippendorff_alpha(data)
    assert alpha == pytest.approx(113 / 152)
    assert round(alpha or 0, 3) == 0.743
    # labels need not be numbers
    letters = [[None if v is None else "abcde"[v - 1] for v in row] for row in data]
    assert krippendorff_alpha(letters) == pytest.approx(113 / 152)


def test_krippendorff_alpha_binary_two_observers():
    """Krippendorff (2011) section A: two observers, ten units, binary data.

    o_00 = 10, o_11 = 2, o_01 = o_10 = 4; n_0 = 14, n_1 = 6, n = 20; α = 1 − 19·4/(14·6) = 1 − 76/84 = 0.095.
    """
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha([a, b]) == pytest.approx(1 - 76 / 84)


def test_krippendorff_alpha_edges():
    assert krippendorff_alpha([]) is None
    assert krippendorff_alpha([[1, N], [N, 1]]) is None  # nothing pairable
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # no expected disagreement
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3], [1, 2, 3]]) == 1.0
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2], [1]])
