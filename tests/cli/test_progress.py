"""Which run of how many, and the time left, as the sessions that queue several print it."""

import argparse

import pytest

from pyserverbench.cli.progress import Progress, clock


def test_the_time_left_scales_the_time_so_far_by_what_is_left():
    plan_ = Progress(3, 5, 1000.0)  # two sessions of five done
    assert plan_.line(0, 1, "run", now=1100.0) == (
        "session 3 of 5, run 1 of 1: 1m40s so far, about 2m30s left")
    assert plan_.line(1, 2, "run", now=1250.0).endswith("4m10s so far, about 4m10s left")
    first = Progress(1, 4, 1000.0).line(0, 2, "search", now=1005.0)
    assert first == ("session 1 of 4, search 1 of 2: the time left is estimated after the "
                     "first search")
    alone = Progress(1, 1, 0.0).line(1, 4, "run", now=30.0)
    assert alone == "run 2 of 4: 30s so far, about 1m30s left"
    assert clock(3725) == "1h02m" and clock(59.6) == "1m00s"


@pytest.mark.parametrize("text", ["3/2@100", "0/2@100", "1/2", "a/b@c", "1/2@"])
def test_a_bad_progress_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not K/N@EPOCH"):
        Progress.parse(text)


def test_the_clock_and_the_bounds_of_a_progress():
    assert [clock(s) for s in (0, 59, 60, 3599, 3600, 7322)] == [
        "0s", "59s", "1m00s", "59m59s", "1h00m", "2h02m"]
    assert Progress.parse("2/2@5") == Progress(2, 2, 5.0)
    assert Progress.parse("1/1@0.5") == Progress(1, 1, 0.5)
    assert Progress(1, 2, 0.0).line(0, 1, "run", now=1.0).startswith("session 1 of 2, run 1")
    assert Progress(2, 2, 10.0).line(0, 1, "run", now=5.0) == (
        "session 2 of 2, run 1 of 1: 0s so far, about 0s left")  # a clock that went back
