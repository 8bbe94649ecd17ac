"""Sessions of pyserverbench. Wiring only: the logic lives in the pyserverbench package."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the package runs from the checkout, it is not installed

from pyserverbench.cli.capacity_options import search_options_problem  # noqa: E402
from pyserverbench.cli.options import load_options_problem  # noqa: E402
from pyserverbench.matrix.pins import HARNESS_PACKAGES, REPORT_PACKAGES, pinned  # noqa: E402
from pyserverbench.matrix.pythons import (  # noqa: E402
    BETWEEN,
    OLDEST,
    available,
    ends,
    free_threaded,
    newest_of,
    pytest_arguments,
)
from pyserverbench.matrix.stacks import (  # noqa: E402
    STACKS,
    app_stacks,
    suite_requirements,
)
from pyserverbench.measure.userapp import ENV_VARIABLE, plan, requirements_of  # noqa: E402
from pyserverbench.sitting.run import save_plan  # noqa: E402

PYTHONS = nox.project.python_versions(nox.project.load_toml("pyproject.toml"))
# The counts named in the sessions users call; any other (1 to 64) after `--`, like
# `-- --workers 8`. auto: each stack's own rule for the server's CPUs (docs/stacks.md).
WORKERS = (1, 2, "auto")
MATRIX = [(server, workers) for server in STACKS for workers in WORKERS]
TOUR_OPTIONS = ["--duration", "15s"]
FOUND = available(PYTHONS)  # the tests start processes on the oldest and newest of these
NEWEST = newest_of(FOUND)  # report, lint and the tour use the newest Python found
# Free-threaded builds found here (3.13t), GIL off: their own entry for threaded stacks.
FREE_THREADED = free_threaded(PYTHONS)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tour"]
# Locally a missing Python is skipped, and nox names it; on CI (CI=true) it is an error.
nox.options.error_on_missing_interpreters = os.environ.get("CI", "").lower() in ("1", "true")
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")  # use this machine's Pythons only
# A user app's --env values: taken out of the environment pip and the report inherit and
# passed only to the commands that run the app (a sitting's nox calls pass it on here).
APP_ENV = {ENV_VARIABLE: os.environ.pop(ENV_VARIABLE)} if ENV_VARIABLE in os.environ else {}


def _bench_name(python: str, server: str) -> str:
    return f"bench_on-{python}(server='{server}')"


def _fan_out(session: nox.Session, runs: list[tuple[str, list[str]]], *report: str) -> None:
    """Queue each (session, its options) with `--progress K/N@START` (for the time left),
    then the report, which prints the sections they added to. nox queues a name once
    only, so when a name comes twice (the study runs some stacks at two latencies) each
    run is its own nox call instead."""
    began = time.time()
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    names = [name for name, _ in runs]
    queued = len(set(names)) == len(names)
    for number, (name, options) in enumerate(runs, start=1):
        posargs = [*options, "--progress", f"{number}/{len(runs)}@{began:.0f}"]
        if queued:
            session.notify(name, posargs=posargs)
        else:
            session.run(sys.executable, "-m", "nox", "--noxfile", str(ROOT / "noxfile.py"),
                        "-s", name, "--", *posargs,
                        external=True, interrupt_timeout=40, terminate_timeout=15)
    session.notify("report", posargs=[*report, "--show-since", since])


def _newest(session: nox.Session) -> str:
    if NEWEST is None:
        session.error(f"none of Python {', '.join(PYTHONS)} found on PATH")
    return NEWEST


def _check_options(session: nox.Session, options: list[str], stack: str | None) -> None:
    problem = load_options_problem(options, stack)
    if problem:
        session.error(f"bad option after --: {problem}")


def _with_workers(session: nox.Session, workers: int | str) -> list[str]:
    """The session's worker count as an option, before the user's (a `--workers` after
    `--` comes later, so it is the one that counts, and the log says so)."""
    if "--workers" in session.posargs:
        session.log(f"--workers after -- replaces the session's workers={workers}")
    return ["--workers", str(workers), *session.posargs]


@nox.session(python=False)
@nox.parametrize(("server", "workers"), MATRIX)
def bench(session: nox.Session, server: str, workers: int | str) -> None:
    """Run one stack on every supported Python found (options after --)."""
    options = _with_workers(session, workers)
    _check_options(session, options, server)
    found = _pythons_for(session, server)
    session.log(f"Python found: {', '.join(found)}; missing: "
                f"{', '.join(sorted(set(PYTHONS) - set(found))) or 'none'}")
    _fan_out(session, [(_bench_name(python, server), options) for python in found])


def _pythons_for(session: nox.Session, server: str) -> list[str]:
    """The Pythons found for a stack: the supported ones, and free-threaded builds for a
    stack that serves on threads."""
    found = FOUND
    if not found:
        session.error(f"none of Python {', '.join(PYTHONS)} found on PATH")
    return found + (FREE_THREADED if STACKS[server].threaded else [])


def _install_stack(session: nox.Session, server: str) -> None:
    """Install the stack, or skip the session in one line where it cannot be (a stack
    that does not install on this Python, or a free-threaded build for a stack that
    does not serve on threads)."""
    if str(session.python).endswith("t") and not STACKS[server].threaded:
        session.skip(f"{server} does not serve on threads: no free-threaded run")
    try:
        session.install(*STACKS[server].requirements())
    except nox.command.CommandFailed:
        session.skip(f"{server} does not install on Python {session.python} (pip's "
                     f"error is above)")


def _run_stack(session: nox.Session, command: str, server: str) -> None:
    """Install the stack, then run `python -m pyserverbench COMMAND` on it (its worker
    count among the options: 2 unless given)."""
    _install_stack(session, server)
    session.run("python", "-m", "pyserverbench", command, "--stack", server,
                *session.posargs, interrupt_timeout=30, terminate_timeout=10)


@nox.session(python=PYTHONS + FREE_THREADED, default=False)
@nox.parametrize("server", list(STACKS))
def bench_on(session: nox.Session, server: str) -> None:
    """Run one stack on one Python, in an environment holding only that stack
    (`-- --workers N` or `auto`; default 2)."""
    _run_stack(session, "run", server)


def _capacity_name(python: str, server: str) -> str:
    return f"capacity_on-{python}(server='{server}')"


@nox.session(python=False)
@nox.parametrize(("server", "workers"), MATRIX)
def capacity(session: nox.Session, server: str, workers: int | str) -> None:
    """Capacity at a latency goal (open loop), on every supported Python found."""
    options = _with_workers(session, workers)
    problem = search_options_problem(server, options)
    if problem:
        session.error(f"bad option after --: {problem}")
    _fan_out(session, [(_capacity_name(python, server), options)
                       for python in _pythons_for(session, server)])


@nox.session(python=PYTHONS + FREE_THREADED, default=False)
@nox.parametrize("server", list(STACKS))
def capacity_on(session: nox.Session, server: str) -> None:
    """Capacity searches for one stack on one Python, in an environment of that stack
    (`-- --workers N` or `auto`; default 2)."""
    _run_stack(session, "capacity", server)


def _sitting(session: nox.Session, *options: str, report: tuple[str, ...] = (),
             env: dict[str, str] | None = None) -> None:
    """Run `python -m pyserverbench sitting` (a random, interleaved order of cells, each
    in its own session) on the newest Python found; then the report (`report`: its
    options)."""
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # it runs even if this fails
    session.notify("report", posargs=[*report, "--show-since", since])
    # 1: some runs failed, and their records say so; any other code fails the session
    # (a slot that left no record: its stack did not install).
    session.run(sys.executable, "-m", "pyserverbench", "sitting", "--python",
                _newest(session), *options, external=True, interrupt_timeout=60,
                terminate_timeout=20, success_codes=[0, 1], env=env)


@nox.session(python=False)
def sitting(session: nox.Session) -> None:
    """A sitting: `-- --plan reference|map|study|tour [--stacks ...] [--rounds N]
    [--seed N]`, or `-- --resume ID` (see docs/methodology.md); then the report."""
    _sitting(session, *session.posargs)


@nox.session(python=False)
def capacity_map(session: nox.Session) -> None:
    """Capacity of every stack, 2 workers, at DB latencies 0, 5, 25 and 100 ms, 3 rounds
    in a random interleaved order (a sitting, newest Python found); then the report."""
    _sitting(session, "--plan", "map", *session.posargs)


@nox.session(python=False)
def tour(session: nox.Session) -> None:
    """A quick tour: every stack, 2 workers, short runs, newest Python, in a random
    order (a sitting of one round); then the report."""
    _sitting(session, "--plan", "tour", *(session.posargs or TOUR_OPTIONS))


@nox.session(python=False)
def study(session: nox.Session) -> None:
    """The study's three tables, 60 s runs, newest Python found, in a random order (a
    sitting); then the report."""
    _sitting(session, "--plan", "study", *session.posargs)


@nox.session(python=False)
def app(session: nox.Session) -> None:
    """Your own app under every stack that serves it: `-- --wsgi mysite.wsgi:application
    --asgi mysite.asgi:application --app-dir PATH` (see docs/your-app.md); then its report."""
    try:
        chosen = plan(session.posargs, FOUND, Path(session.invoked_from))
    except ValueError as exc:
        session.error(f"bad option after --: {exc}")
    APP_ENV[ENV_VARIABLE] = json.dumps(chosen.env)  # off the command lines nox prints
    for line in chosen.warnings:
        session.warn(line)
    runs = chosen.results_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    if chosen.sitting:  # --advise: the sweep, as a sitting on the app's Python
        save_plan(chosen.sitting, runs)
        _sitting(session, "--resume", chosen.sitting["id"], "--results-dir", str(runs),
                 report=("--runs-dir", str(runs),
                         "--output", str(chosen.results_dir / "README.md")), env=APP_ENV)
        return
    _fan_out(session, [(f"app_on-{chosen.python}(server='{server}')", arguments)
                       for server, arguments in chosen.runs],
             "--runs-dir", str(chosen.results_dir / "runs"),
             "--output", str(chosen.results_dir / "README.md"))


@nox.session(python=PYTHONS, default=False)
@nox.parametrize("server", app_stacks("wsgi") + app_stacks("asgi"))
def app_on(session: nox.Session, server: str) -> None:
    """Your app under one stack: the stack's server pins, the harness and your
    requirements in one environment (`nox -s app` passes the options)."""
    wanted = requirements_of(session.posargs)
    try:
        session.install(*STACKS[server].server_requirements(),
                        *(["-r", str(wanted)] if wanted else []))
    except nox.command.CommandFailed:
        session.error(f"{wanted} does not install beside stack {server}'s pins (pip's "
                      f"error is above)")
    session.run("python", "-m", "pyserverbench", "app", *session.posargs, env=APP_ENV,
                interrupt_timeout=30, terminate_timeout=10)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def report(session: nox.Session) -> None:
    """Render every record under results/runs into results/README.md and index.html."""
    session.install(*pinned(*REPORT_PACKAGES))
    session.run("python", "-m", "pyserverbench", "report", *session.posargs)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def db_role(session: nox.Session) -> None:
    """Separate hosts, the fake DB alone, until Ctrl-C: `-- --listen ADDRESS:PORT`."""
    session.install(*pinned(*HARNESS_PACKAGES))
    session.run("python", "-m", "pyserverbench", "db-role", *session.posargs,
                interrupt_timeout=30, terminate_timeout=10)


@nox.session(python=PYTHONS + FREE_THREADED, default=False)
@nox.parametrize("server", list(STACKS))
def server_role(session: nox.Session, server: str) -> None:
    """Separate hosts, one stack alone, until Ctrl-C: `-- --listen ... --db ...`."""
    _install_stack(session, server)
    session.run("python", "-m", "pyserverbench", "server-role", "--stack", server,
                *session.posargs, interrupt_timeout=30, terminate_timeout=10)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def load_role(session: nox.Session) -> None:
    """Separate hosts, k6 against the roles; writes records: `-- --server ... --db ...`."""
    session.install(*pinned(*HARNESS_PACKAGES, "jsonschema"))  # checks what the roles say
    session.run("python", "-m", "pyserverbench", "load-role", *session.posargs,
                interrupt_timeout=30, terminate_timeout=10)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def compare(session: nox.Session) -> None:
    """Compare two selections of records (`-- python=3.12 python=3.13`, or two directories)
    configuration by configuration; `--fail-slower PERCENT` gates on a regression."""
    session.install(*pinned("tabulate", "jsonschema"))
    session.run("python", "-m", "pyserverbench", "compare", *session.posargs)


@nox.session(python=PYTHONS, default=False)
def tests(session: nox.Session) -> None:
    """Run the test suite (real servers, real k6) on the oldest and newest Python found;
    on those between, the tests that start no process (`-- ...` runs what you pass)."""
    session.install(*suite_requirements())
    arguments = pytest_arguments(session.python, FOUND, session.posargs)
    oldest, newest = ends(FOUND) or (session.python, session.python)
    if arguments[:2] == ["-m", BETWEEN]:
        session.log(f"Python {session.python} is between {oldest} and {newest}: the tests "
                    f"that start processes or fuzz run on those two")
    elif arguments[:2] == ["-m", OLDEST]:
        session.log(f"Python {session.python} is the oldest: the harness's own process "
                    f"tests (marked newest) run on {newest} only")
    session.run("python", "-m", "pytest", *arguments)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def mutants(session: nox.Session) -> None:
    """Mutation testing of the modules that decide a number or a verdict (mutmut)."""
    session.install(*suite_requirements(), *pinned("mutmut"))
    session.run("python", "-m", "pyserverbench", "mutants", *session.posargs)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def interrupts(session: nox.Session) -> None:
    """Interrupt short real runs at random moments; count processes and ports left behind."""
    session.install(*suite_requirements())
    session.run("python", "-m", "pyserverbench", "interrupts", *session.posargs)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def calibrate(session: nox.Session) -> None:
    """Drive the fake DB with k6 at rising constant rates; print the latency it adds."""
    session.install(*pinned(*HARNESS_PACKAGES))
    session.run("python", "-m", "pyserverbench", "calibrate", *session.posargs)


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def lint(session: nox.Session) -> None:
    """Check the code with ruff."""
    session.install(*pinned("ruff"))
    session.run("ruff", "check", ".")


@nox.session(python=NEWEST or PYTHONS[-1], default=False)
def asyncable(session: nox.Session) -> None:
    """Time 10 jobs on 10 threads, sleeping versus looping (the GIL at work)."""
    session.run("python", "-m", "pyserverbench", "asyncable", *session.posargs)
