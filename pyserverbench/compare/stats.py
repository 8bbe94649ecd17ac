"""Welch's two-sample t-test at 95%, standard library only (the compare verdict)."""

from __future__ import annotations

import math
import statistics

CONFIDENCE = 0.95


def _t_density(x: float, df: float) -> float:
    """Student's t probability density with df degrees of freedom."""
    scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(scale - (df + 1) / 2 * math.log1p(x * x / df))


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t, by Simpson's rule from 0 (the density is symmetric)."""
    steps = 2000
    width = abs(x) / steps
    total = _t_density(0.0, df) + _t_density(abs(x), df)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * _t_density(i * width, df)
    half = total * width / 3
    return 0.5 + half if x >= 0 else 0.5 - half


def t_critical(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided critical value: |T| beyond it has probability 1 - confidence."""
    target = 1 - (1 - confidence) / 2
    low, high = 0.0, 1000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < target else (low, middle)
    return (low + high) / 2


def significant(a: list[float], b: list[float]) -> bool:
    """Whether the means of a and b differ at 95% by Welch's t-test (two or more values
    each). Two constant samples differ exactly when their values do."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs two or more values per sample")
    mean_a, mean_b = statistics.fmean(a), statistics.fmean(b)
    per_a, per_b = _mean_variances(a, b)
    error = math.sqrt(per_a + per_b)
    if error == 0:
        return mean_a != mean_b
    return abs(mean_a - mean_b) / error > t_critical(welch_df(a, b))


def welch_df(a: list[float], b: list[float]) -> float:
    """The Welch-Satterthwaite degrees of freedom of two samples (not both constant)."""
    per_a, per_b = _mean_variances(a, b)
    return (per_a + per_b) ** 2 / (per_a ** 2 / (len(a) - 1) + per_b ** 2 / (len(b) - 1))


def _mean_variances(a: list[float], b: list[float]) -> tuple[float, float]:
    """Each sample's variance of its mean (its variance over its size)."""
    return statistics.variance(a) / len(a), statistics.variance(b) / len(b)
