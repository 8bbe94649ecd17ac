"""The options of a run, as a user types them: defaults, bounds, the help they read."""

import argparse
import os

import pytest

from pyserverbench.cli.options import fail, load_options_problem
from pyserverbench.cli.types import bounded_float, bounded_int, cpu_list, k6_duration
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.measure import closed as run_module
from pyserverbench.measure.closed import parse_args
from pyserverbench.measure.setup import RunConfig

USABLE = sorted(os.sched_getaffinity(0))


def test_a_run_defaults_to_the_studys_scenario():
    config = parse_args(["--stack", "sync"])
    assert config == RunConfig(
        stack=STACKS["sync"], workers=2, threads=None, duration_s=60, db_latency_ms=25,
        vus=10, results_dir=run_module.ROOT / "results" / "runs", repeat=1,
        server_cpus=None, connections="kept")


def test_every_option_reaches_the_run(tmp_path):
    cpus = [] if len(USABLE) < 2 else ["--server-cpus", str(USABLE[0])]
    config = parse_args(["--stack", "gthread", "--workers", "3", "--threads", "4",
                         "--duration", "1m30s", "--db-latency", "0", "--vus", "7",
                         "--repeat", "2", "--connections", "per-iteration",
                         "--results-dir", str(tmp_path), *cpus])
    assert config == RunConfig(
        stack=STACKS["gthread"], workers=3, threads=4, duration_s=90, db_latency_ms=0, vus=7,
        results_dir=tmp_path, repeat=2, server_cpus=frozenset(USABLE[:1]) if cpus else None,
        connections="per-iteration")


def test_threads_for_a_stack_without_threads_are_refused_naming_those_with(capsys):
    with pytest.raises(SystemExit) as caught:
        parse_args(["--stack", "uvicorn", "--threads", "2"])
    assert caught.value.code == 2
    with_threads = ", ".join(n for n, s in STACKS.items() if s.uses_threads)
    assert capsys.readouterr().err == (
        "python -m pyserverbench run: error: argument --threads: stack 'uvicorn' has no "
        f"threads (accepted only with: {with_threads})\n")


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--workers", "65"],
                                  ["--stack", "nginx"], ["--repeat", "0"], ["--threads", "0"],
                                  ["--threads", "257"], ["--db-latency", "10001"],
                                  ["--vus", "0"], ["--vus", "1001"], ["--repeat", "101"]])
def test_bounds_are_refused_in_one_line(argv, capsys):
    argv = argv if "--stack" in argv else ["--stack", "gthread", *argv]
    with pytest.raises(SystemExit):
        parse_args(argv)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and argv[-2] in err and repr(argv[-1]) in err


@pytest.mark.parametrize("argv", [["--workers", "1"], ["--workers", "64"], ["--threads", "1"],
                                  ["--threads", "256"], ["--db-latency", "10000"],
                                  ["--vus", "1000"], ["--vus", "1"], ["--repeat", "100"],
                                  ["--repeat", "1"], ["--db-latency", "0"]])
def test_the_ends_of_each_range_are_accepted(argv):
    parse_args(["--stack", "gthread", *argv])


def test_the_thread_count_is_the_given_one_or_gunicorns_default():
    config = parse_args(["--stack", "gthread"])
    assert config.effective_threads() == 1  # gunicorn's own default
    assert parse_args(["--stack", "gthread", "--threads", "8"]).effective_threads() == 8
    assert parse_args(["--stack", "sync"]).effective_threads() is None


def test_the_load_side_gets_the_cpus_the_server_does_not():
    assert parse_args(["--stack", "sync"]).load_cpus() is None
    if len(USABLE) < 2:
        pytest.skip("needs two CPUs")
    config = parse_args(["--stack", "sync", "--server-cpus", str(USABLE[0])])
    assert config.load_cpus() == frozenset(USABLE[1:])


def test_durations_from_one_second_to_a_day():
    assert k6_duration("1s") == 1
    assert k6_duration("24h") == 24 * 3600
    for text in ("0s", "24h1s"):
        with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
            k6_duration(text)


def test_ranges_are_shown_as_the_user_would_type_them():
    with pytest.raises(argparse.ArgumentTypeError,
                       match=r"^'x' is not a whole number \(accepted: 1 to 1000000\)$"):
        bounded_int(1, 1_000_000)("x")
    with pytest.raises(argparse.ArgumentTypeError,
                       match=r"^'x' is not a number \(accepted: 0.5 to 100000\)$"):
        bounded_float(0.5, 100_000.0)("x")
    assert bounded_float(0.5, 1.5)("0.5") == 0.5


def test_cpu_lists_name_the_usable_cpus():
    if len(USABLE) < 2:
        pytest.skip("needs two CPUs")
    last = USABLE[-1]
    assert cpu_list(str(last)) == frozenset({last})
    assert cpu_list(f"{last}-{last}") == frozenset({last})
    shown = ",".join(map(str, USABLE))
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        cpu_list(",".join(map(str, USABLE)))
    assert str(caught.value) == (f"'{shown}' is not usable here (accepted: some but not all "
                                 f"of CPUs {shown}, like 0 or 0-1)")


def test_a_fatal_error_is_one_line_on_stderr_and_exit_code_2(capsys):
    with pytest.raises(SystemExit) as caught:
        fail("no such thing")
    assert caught.value.code == 2
    assert capsys.readouterr().err == "error: no such thing\n"


def test_session_options_have_no_help_flag_of_their_own():
    # nox passes these on to the run; -h is not one of them
    assert "unrecognized arguments: -h" in load_options_problem(["-h"])


def test_a_run_without_its_load_script_stops_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(run_module, "LOAD_SCRIPT", tmp_path / "load.js")
    assert run_module.main(["--stack", "sync", "--results-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"error: k6 script {tmp_path / 'load.js'} not found\n"
    assert not (tmp_path / "runs").exists()


def test_bad_options_stop_a_run_before_anything_starts(capsys):
    with pytest.raises(SystemExit) as caught:
        run_module.main(["--stack", "nginx"])
    assert caught.value.code == 2
    assert "invalid choice: 'nginx'" in capsys.readouterr().err
