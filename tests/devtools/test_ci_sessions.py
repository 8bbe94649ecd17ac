"""The CI fan-out: the workflow passes actionlint, and its session-listing step, run here
as GitHub runs it, lists exactly the chosen sessions from the real noxfile."""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from pyserverbench.devtools import ci_sessions as matrix
from pyserverbench.matrix.stacks import STACKS

WORKFLOW = ROOT / ".github" / "workflows" / "matrix.yml"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
    "actionlint")
NOX = ROOT / ".venv-nox" / "bin" / "nox"


def _actionlint(path: Path) -> subprocess.CompletedProcess:
    if ACTIONLINT is None:
        pytest.fail("actionlint is not installed (it is in the suite's requirements)")
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.processes
def test_the_workflow_passes_actionlint():
    found = _actionlint(WORKFLOW)
    assert found.returncode == 0, found.stdout + found.stderr


@pytest.mark.processes
def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "matrix.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("inputs.stacks", "inputs.stackz"))
    found = _actionlint(broken)
    assert found.returncode == 1 and "stackz" in found.stdout


def _list_step() -> dict:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    [step] = [s for s in jobs["list"]["steps"] if s.get("id") == "list"]
    return step


def _run_list_step(tmp_path: Path, **inputs: str) -> tuple[int, str, str]:
    if not NOX.exists():
        pytest.skip(f"{NOX} is missing: run `python3 bootstrap.py` (as .ci/run does)")
    output = tmp_path / "github_output"
    output.touch()
    script = tmp_path / "step.sh"
    script.write_text(_list_step()["run"])
    env = {**os.environ, "GITHUB_OUTPUT": str(output),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "KIND": "bench_on", "STACKS": "all", "PYTHONS": "all", "WORKERS": "2",
           "OPTIONS": "", **inputs}
    # GitHub's own shell for `run:` on Linux runners
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    return done.returncode, output.read_text(), done.stderr


@pytest.mark.processes
def test_the_listing_step_lists_the_chosen_sessions(tmp_path):
    code, output, err = _run_list_step(tmp_path, STACKS="sync,uvicorn", PYTHONS="3.12,3.13",
                                       OPTIONS="--duration 15s --repeat 2")
    assert code == 0, err
    [line] = output.splitlines()
    assert line.startswith("matrix=")
    entries = json.loads(line.removeprefix("matrix="))
    assert sorted(e["session"] for e in entries) == [
        f"bench_on-{p}(server='{s}')" for p in ("3.12", "3.13")
        for s in ("sync", "uvicorn")]
    assert {e["python"] for e in entries} == {"3.12", "3.13"}


@pytest.mark.processes
def test_the_listing_step_lists_capacity_sessions_for_every_python(tmp_path):
    code, output, err = _run_list_step(tmp_path, KIND="capacity_on", STACKS="waitress",
                                       WORKERS="1,2")
    assert code == 0, err
    entries = json.loads(output.removeprefix("matrix="))
    assert len(entries) == 8 and {e["workers"] for e in entries} == {1, 2}


@pytest.mark.processes
@pytest.mark.parametrize(("inputs", "named"), [
    ({"STACKS": "sync,nginx"}, "nginx"), ({"PYTHONS": "2.7"}, "2.7"),
    ({"OPTIONS": "--duration forever"}, "forever"), ({"WORKERS": "65"}, "'65'"),
])
def test_bad_inputs_fail_the_listing_step_in_one_line_and_write_nothing(tmp_path, inputs,
                                                                        named):
    code, output, err = _run_list_step(tmp_path, **inputs)
    assert code == 2 and output == ""
    assert named in err.strip().splitlines()[-1]


SESSIONS = [
    {"session": f"{kind}-{python}(server='{stack}')", "name": kind,
     "python": python, "call_spec": {"server": stack}}
    for kind in matrix.KINDS for python in ("3.12", "3.13") for stack in ("sync", "gevent")]


def test_choose_keeps_only_what_every_choice_allows():
    chosen = matrix.choose(SESSIONS, "capacity_on", ["gevent"], ["3.13"], [1, "auto"])
    assert chosen == [{"session": "capacity_on-3.13(server='gevent')", "python": "3.13",
                       "stack": "gevent", "workers": count} for count in (1, "auto")]
    assert matrix.choose(SESSIONS, "bench_on", ["sync"], ["3.12"], [2]) == [
        {"session": "bench_on-3.12(server='sync')", "python": "3.12",
         "stack": "sync", "workers": 2}]


def _matrix(monkeypatch, argv, sessions=SESSIONS):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(sessions)))
    try:
        return matrix.main(argv)
    except SystemExit as exc:
        return exc.code


def test_the_matrix_command_prints_the_chosen_entries(monkeypatch, capsys):
    assert _matrix(monkeypatch, ["--kind", "bench_on", "--stacks", "gevent", "--pythons",
                                 "all", "--workers", "1", "--options", "--repeat 3"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["session"], e["workers"]) for e in entries] == [
        ("bench_on-3.12(server='gevent')", 1), ("bench_on-3.13(server='gevent')", 1)]


@pytest.mark.parametrize(("argv", "named"), [
    (["--workers", "3,0"], "--workers '3,0': '0' is not a worker count (accepted: auto, "
                           "or 1 to 64)"),
    (["--pythons", "3.12,"], None), (["--stacks", ","], "nothing is not accepted"),
    (["--kind", "capacity_on", "--options", "--goal-ms 0"], "--goal-ms"),
    (["--options", "--threads 4"], "--threads"),
])
def test_the_matrix_command_refuses_bad_choices_in_one_line(monkeypatch, capsys, argv, named):
    code = _matrix(monkeypatch, ["--kind", "bench_on", "--stacks", "sync", *argv])
    err = capsys.readouterr().err
    if named is None:  # a trailing comma is not a choice of its own
        assert code == 0
        return
    assert code == 2 and named in err and err.count("\n") == 1


def test_the_matrix_command_needs_the_listing_on_stdin(monkeypatch, capsys):
    assert _matrix(monkeypatch, ["--kind", "bench_on"], sessions=[]) == 2
    assert "stdin lists no bench_on session" in capsys.readouterr().err


def test_each_choice_is_named_in_its_error_with_what_it_accepts(monkeypatch, capsys):
    for option, value, accepted in (
            ("--stacks", "nope", ", ".join(STACKS)), ("--pythons", "3.9", "3.12, 3.13")):
        assert _matrix(monkeypatch, ["--kind", "bench_on", option, value]) == 2
        assert capsys.readouterr().err == (
            f"python -m pyserverbench matrix: error: {option} {value!r}: {value} is not "
            f"accepted (accepted: all, or a comma-separated list of {accepted})\n")


def test_the_defaults_are_every_stack_and_python_at_two_workers(monkeypatch, capsys):
    assert _matrix(monkeypatch, ["--kind", "capacity_on"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {(e["stack"], e["python"], e["workers"]) for e in entries} == {
        (s, p, 2) for s in ("sync", "gevent") for p in ("3.12", "3.13")}


def test_the_kind_is_required_and_one_of_the_two(monkeypatch, capsys):
    assert _matrix(monkeypatch, []) == 2
    assert "the following arguments are required: --kind" in capsys.readouterr().err
    assert _matrix(monkeypatch, ["--kind", "tour"]) == 2
    assert "argument --kind: invalid choice: 'tour'" in capsys.readouterr().err


def test_the_options_are_checked_as_the_chosen_kind_takes_them(monkeypatch, capsys):
    # bench_on: load options, for the one stack chosen (gthread takes --threads) ...
    assert _matrix(monkeypatch, ["--kind", "bench_on", "--stacks", "gthread",
                                 "--options", "--threads 4"],
                   sessions=[{**s, "call_spec": {**s["call_spec"], "server": "gthread"}}
                             for s in SESSIONS]) == 0
    capsys.readouterr()
    # ... or for several at once, where --threads applies to none alone
    assert _matrix(monkeypatch, ["--kind", "bench_on", "--stacks", "sync,gevent",
                                 "--options", "--threads 4"]) == 2
    assert "applies to one stack at a time" in capsys.readouterr().err
    # capacity_on: a search's options, for each stack and worker count chosen
    assert _matrix(monkeypatch, ["--kind", "capacity_on", "--stacks", "gevent",
                                 "--options", "--db-latency 0,25 --repeat 3"]) == 0
    capsys.readouterr()
    assert _matrix(monkeypatch, ["--kind", "capacity_on", "--stacks", "sync",
                                 "--options", "--threads 4"]) == 2
    assert capsys.readouterr().err == (
        "python -m pyserverbench matrix: error: --options '--threads 4': argument "
        "--threads: stack 'sync' has no threads (accepted only with: gthread, "
        "granian-wsgi)\n")
    assert _matrix(monkeypatch, ["--kind", "capacity_on", "--options", "--repeat 0"]) == 2
    assert "--repeat" in capsys.readouterr().err


def test_stdin_that_is_not_json_is_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("nox > listing..."))
    with pytest.raises(SystemExit):
        matrix.main(["--kind", "bench_on"])
    assert capsys.readouterr().err == ("python -m pyserverbench matrix: error: stdin is not "
                                       "the JSON of `nox -l --json`\n")
