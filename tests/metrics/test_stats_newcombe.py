"""Newcombe's paired-difference interval (method 10) against the paper's own worked examples."""

import pytest

from safetyscope.metrics.paired import newcombe_paired_interval
from safetyscope.report.compare import PairedTest

# Newcombe RG (1998), "Improved confidence intervals for the difference between binomial proportions based on
# paired data", Stat Med 17:2635-2650, Table II, method 10. The paper's table (e, f, g, h) has e = both positive,
# f = positive in the first only, g = in the second only, h = neither; θ = (f − g) / n. The published limits
# (4 decimals) as reproduced in the test suite of the R package propint (ci.two.dep.props):
PUBLISHED = [
    ((36, 12, 2, 0), (0.0569, 0.3404)),
    ((18, 12, 2, 18), (0.0562, 0.3290)),
    ((53, 0, 0, 1), (-0.0729, 0.0729)),
    ((0, 30, 0, 0), (0.8395, 1.0)),
]


@pytest.mark.parametrize(("table", "limits"), PUBLISHED)
def test_matches_newcombe_1998_table_ii_method_10(table, limits):
    e, f, g, h = table
    # our difference is p_B − p_A, so Newcombe's first proportion is B: only_b = f, only_a = g
    low, high = newcombe_paired_interval(both=e, only_a=g, only_b=f, neither=h)
    assert (round(low, 4), round(high, 4)) == limits


def test_compare_rows_use_it():
    row = PairedTest(scope="overall", both=36, only_a=2, only_b=12, neither=0)
    assert row.delta == pytest.approx(10 / 50)
    assert tuple(round(x, 4) for x in row.interval) == (0.0569, 0.3404)
