import argparse

import pytest

from pyserverbench.cli.options import OneLineParser, add_load_options, load_options_problem
from pyserverbench.cli.types import bounded_float, bounded_int, cpu_list, k6_duration


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


@pytest.mark.parametrize(("argv", "named"), [
    (["--duration", "soon"], "--duration"),
    (["--db-latency", "-1"], "--db-latency"),
    (["--vus", "0"], "--vus"),
    (["--vus", "100000"], "--vus"),
    (["--threads", "zero"], "--threads"),
    (["--speed", "1"], "--speed"),
])
def test_bad_load_options_are_named_in_one_line(argv, named):
    problem = load_options_problem(argv)
    assert problem is not None
    assert len(problem.splitlines()) == 1
    assert named in problem


def test_valid_load_options_have_no_problem():
    assert load_options_problem(["--duration", "15s", "--threads", "4"], "gthread") is None


def test_threads_are_refused_where_the_stack_has_none():
    problem = load_options_problem(["--threads", "4"], "uvicorn")
    assert problem == ("argument --threads: stack 'uvicorn' has no threads (accepted only "
                       "with: gthread, granian-wsgi)")
    assert "one stack at a time" in load_options_problem(["--threads", "4"])


def test_good_load_options_pass():
    parser = OneLineParser(prog="x")
    add_load_options(parser)
    args = parser.parse_args(["--duration", "1m", "--db-latency", "0", "--vus", "5"])
    assert (args.duration, args.db_latency, args.vus, args.threads) == (60, 0, 5, None)


def test_cpu_lists_take_some_but_not_all_usable_cpus():
    import os

    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        pytest.skip("needs two CPUs")
    assert cpu_list(str(usable[0])) == frozenset({usable[0]})
    for bad in ("x", "", f"{usable[0]}-{usable[-1]}", "9999"):
        with pytest.raises(argparse.ArgumentTypeError, match="accepted: some but not all"):
            cpu_list(bad)


def test_connections_accept_kept_or_per_iteration_only():
    assert load_options_problem(["--connections", "per-iteration"]) is None
    problem = load_options_problem(["--connections", "never"])
    assert "--connections" in problem and "per-iteration" in problem
