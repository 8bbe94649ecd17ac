"""Estimates, intervals, the noise floor and tie groups, on figures whose answer is known."""

import math

import pytest

from pyserverbench.report.ties import (
    coverage,
    estimate,
    noise_floor,
    order_index,
    tie_groups,
    tied,
    unranked,
)


def test_coverage_is_the_binomial_chance_that_the_median_lies_between_the_order_statistics():
    assert coverage(3, 1) == 0.75  # 1 - 2 / 8
    assert coverage(5, 1) == 1 - 2 / 32
    assert coverage(8, 2) == pytest.approx(1 - 2 * 9 / 256)
    assert coverage(1, 1) == 0.0


@pytest.mark.parametrize(("n", "k"), [(3, 1), (5, 1), (6, 2), (8, 2), (9, 3), (20, 7)])
def test_the_interval_is_the_narrowest_that_keeps_75_percent(n, k):
    assert order_index(n) == k
    assert coverage(n, k) >= 0.75
    assert k == (n + 1) // 2 or coverage(n, k + 1) < 0.75


def test_one_or_two_repeats_give_the_widest_interval_with_its_low_confidence():
    assert (order_index(1), order_index(2)) == (1, 1)
    assert estimate([7.0]).confidence == 0.0
    assert estimate([7.0, 9.0]).confidence == 0.5


def test_an_estimate_is_the_median_with_the_extremes_of_three_and_each_search_bracket():
    found = estimate([1000.0, 1100.0, 1050.0], highs=[1040.0, 1150.0, None])
    assert (found.value, found.low, found.high, found.n) == (1050.0, 1000.0, 1150.0, 3)
    assert found.confidence == 0.75
    assert found.spread == pytest.approx(50 / 1050, abs=1e-4)


def test_an_estimate_of_eight_drops_the_extremes():
    found = estimate([float(v) for v in (1, 2, 3, 4, 5, 6, 7, 80)])
    assert (found.value, found.low, found.high) == (4.5, 2.0, 7.0)


def test_an_estimate_needs_a_value():
    with pytest.raises(ValueError, match="one value or more"):
        estimate([])


def test_the_noise_floor_is_the_median_relative_gap_of_the_pairs():
    assert noise_floor([(100.0, 104.0), (200.0, 190.0)]) == pytest.approx((4 / 102 + 10 / 195) / 2)
    assert noise_floor([(100.0, 101.0), (100.0, 150.0), (100.0, 104.0)]) == pytest.approx(4 / 102)
    assert noise_floor([]) is None
    assert noise_floor([(0.0, 0.0)]) is None


def test_cells_tie_when_intervals_overlap_or_the_gap_is_under_the_floor():
    a, b = estimate([100.0, 110.0]), estimate([108.0, 120.0])
    assert tied(a, b, None)  # 108 <= 110
    assert tied(estimate([105.0, 110.0]), estimate([100.0, 105.0]), None)  # touching ends
    assert tied(estimate([100.0, 105.0]), estimate([105.0, 110.0]), None)
    c, d = estimate([100.0, 101.0]), estimate([104.0, 105.0])
    assert not tied(c, d, None)
    assert not tied(c, d, 0.02)  # 100.5 against 104.5: 3.9% apart
    assert tied(c, d, 0.04)


def test_tie_groups_rank_groups_only_and_never_chain_past_the_leader():
    cells = {"fast": estimate([200.0, 210.0, 205.0]),
             "close": estimate([195.0, 202.0, 199.0]),   # overlaps fast
             "middle": estimate([180.0, 196.0, 190.0]),  # overlaps close, not fast
             "slow": estimate([100.0, 101.0, 102.0]),
             "alone": estimate([50.0, 51.0])}
    assert tie_groups(cells, None) == [["fast", "close"], ["middle"], ["slow"]]
    # a floor of 10% ties everything within 10% of the leader
    assert tie_groups(cells, 0.10) == [["fast", "close", "middle"], ["slow"]]
    assert unranked(cells) == ["alone"]  # two repeats: in no group


def test_a_wide_interval_below_does_not_pull_a_stack_past_one_it_left_out():
    cells = {"top": estimate([1805.0, 1950.0, 2086.0], [1900.0, 2050.0, 2185.0]),
             "steady": estimate([1505.0, 1509.0, 1602.0], [1580.0, 1590.0, 1682.0]),
             "wide": estimate([1389.0, 1461.0, 1741.0], [1465.0, 1530.0, 1828.0])}
    assert cells["wide"].overlaps(cells["top"]) and not cells["steady"].overlaps(cells["top"])
    assert tie_groups(cells, None) == [["top"], ["steady", "wide"]]


def test_one_cell_is_one_group():
    assert tie_groups({"only": estimate([5.0, 5.0, 6.0])}, 0.5) == [["only"]]
    assert math.isclose(estimate([5.0]).spread, 0.0)
    assert tie_groups({"once": estimate([5.0])}, None) == []
