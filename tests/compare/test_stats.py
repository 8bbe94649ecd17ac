"""Welch's t test: Student's critical values, the degrees of freedom, the t distribution."""

import pytest

from pyserverbench.compare.stats import significant, t_cdf, t_critical, welch_df


@pytest.mark.parametrize(("df", "published"), [(1, 12.706), (2, 4.303), (10, 2.228),
                                               (30, 2.042)])
def test_the_critical_values_are_students(df, published):
    assert t_critical(df) == pytest.approx(published, abs=0.001)


def test_welchs_degrees_of_freedom_weigh_each_samples_size_and_spread():
    # By hand: per-sample variances of the mean 1/3 (var 1, n 3) and 2 (var 10, n 5):
    # (1/3 + 2)^2 / ((1/3)^2 / 2 + 2^2 / 4) = (49/9) / (19/18) = 98/19.
    assert welch_df([1, 2, 3], [10, 12, 14, 16, 18]) == pytest.approx(98 / 19)
    assert welch_df([10, 12, 14, 16, 18], [1, 2, 3]) == pytest.approx(98 / 19)
    assert welch_df([1, 2], [3, 4]) == pytest.approx(2)  # equal samples of 2: n-1 each


@pytest.mark.parametrize("x", [0.5, 2.228, 4.0])
def test_the_t_distribution_is_symmetric_about_zero(x):
    assert t_cdf(0.0, 10) == pytest.approx(0.5)
    assert t_cdf(-x, 10) == pytest.approx(1 - t_cdf(x, 10))
    assert t_cdf(-2.228, 10) == pytest.approx(0.025, abs=0.0005)  # the published 2.228


def test_welch_needs_two_values_a_side():
    with pytest.raises(ValueError):
        significant([1.0], [1.0, 2.0])
