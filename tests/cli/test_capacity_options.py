"""A capacity search's options: the latencies, the default placement, and the one-line
problem with a session's options."""

import pytest

from pyserverbench.cli.capacity_options import default_server_cpus, search_options_problem
from pyserverbench.cli.types import latencies


def test_latencies_and_default_placement():
    assert latencies("25") == [25] and latencies("0,5,25,100") == [0, 5, 25, 100]
    for bad in ("", "5,", "x", "-1", "10001", "1.5"):
        with pytest.raises(Exception, match="is not a list of latencies"):
            latencies(bad)
    assert default_server_cpus({0, 1}) == frozenset({0})
    assert default_server_cpus({3, 1, 2, 0}) == frozenset({0, 1})
    assert default_server_cpus({5, 6, 7}) == frozenset({5})
    assert default_server_cpus({0}) is None


@pytest.mark.parametrize(("argv", "named"), [
    (["--threads", "4"], "argument --threads: stack 'sync' has no threads"),
    (["--start-rps", "500", "--max-rps", "100"], "--start-rps: 500 is above --max-rps 100"),
    (["--near", "500", "--max-rps", "100"], "--near: 500 is above --max-rps 100"),
    (["--mix", "/x"], "argument --mix: '/x' is not a request mix"),
    (["--db-latency", "5,x"], "argument --db-latency: '5,x' is not a list of latencies"),
    (["--step", "0s"], "argument --step: '0s' is out of range"),
    (["--resolution", "0"], "argument --resolution: '0' is out of range"),
    (["--shared-cpus", "--server-cpus", "0"], "not allowed with argument"),
    (["--goal-ms", "nan"], "argument --goal-ms: 'nan' is not a number"),
])
def test_bad_session_options_are_named_in_one_line(argv, named):
    problem = search_options_problem("sync", argv)
    assert problem is not None and named in problem and "\n" not in problem


def test_good_session_options_pass():
    assert search_options_problem("gthread", ["--threads", "4", "--db-latency", "0,25"]) is None
    assert search_options_problem("sync", []) is None
