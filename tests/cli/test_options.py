
import pytest

from pyserverbench.cli.options import OneLineParser, add_load_options, load_options_problem


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


def test_connections_accept_kept_or_per_iteration_only():
    assert load_options_problem(["--connections", "per-iteration"]) is None
    problem = load_options_problem(["--connections", "never"])
    assert "--connections" in problem and "per-iteration" in problem
