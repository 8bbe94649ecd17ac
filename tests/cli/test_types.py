"""Argument types: durations, bounded numbers and CPU lists, refused in one line."""

import argparse

import pytest

from pyserverbench.cli.types import bounded_float, bounded_int, cpu_list, k6_duration, workers_count


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15), ("1m", 60), ("1m30s", 90),
                                               ("2h", 7200), ("60s", 60)])
def test_k6_durations_parse_to_seconds(text, seconds):
    assert k6_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "15", "-5s", "0s", "1.5s", "25h", "10 s"])
def test_bad_durations_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="accepted"):
        k6_duration(text)


def test_bounded_int_names_the_value_and_the_range():
    parse = bounded_int(1, 10)
    assert parse("10") == 10
    expected = r"'11' is out of range \(accepted: 1 to 10\)"
    with pytest.raises(argparse.ArgumentTypeError, match=expected):
        parse("11")
    with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
        parse("2.5")


@pytest.mark.parametrize("text", ["nan", "inf", "x", "-1", "1e9"])
def test_bounded_float_refuses_non_finite_and_out_of_range(text):
    with pytest.raises(argparse.ArgumentTypeError):
        bounded_float(0, 100)(text)


def test_cpu_lists_take_some_but_not_all_usable_cpus():
    import os

    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        pytest.skip("needs two CPUs")
    assert cpu_list(str(usable[0])) == frozenset({usable[0]})
    for bad in ("x", "", f"{usable[0]}-{usable[-1]}", "9999", "1-0", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="accepted: some but not all"):
            cpu_list(bad)


def test_a_huge_cpu_range_is_refused_before_it_is_built():
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(argparse.ArgumentTypeError, match="'0-5000000' is not usable"):
            cpu_list("0-5000000")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a set of five million CPUs took 303 MB


@pytest.mark.parametrize("text", ["0", "65", "-1", "two", "", "2.5", "Auto"])
def test_a_bad_worker_count_names_what_is_accepted(text):
    with pytest.raises(argparse.ArgumentTypeError, match="accepted: auto, or 1 to 64"):
        workers_count(text)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("64", 64), ("auto", "auto")])
def test_a_worker_count_is_a_number_or_auto(text, value):
    assert workers_count(text) == value
