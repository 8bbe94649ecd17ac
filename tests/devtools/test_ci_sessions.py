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
        f"bench_on-{p}(server='{s}', workers=2)" for p in ("3.12", "3.13")
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
    ({"OPTIONS": "--duration forever"}, "forever"), ({"WORKERS": "3"}, "'3'"),
])
def test_bad_inputs_fail_the_listing_step_in_one_line_and_write_nothing(tmp_path, inputs,
                                                                        named):
    code, output, err = _run_list_step(tmp_path, **inputs)
    assert code == 2 and output == ""
    assert named in err.strip().splitlines()[-1]


SESSIONS = [
    {"session": f"{kind}-{python}(server='{stack}', workers={workers})", "name": kind,
     "python": python, "call_spec": {"server": stack, "workers": workers}}
    for kind in matrix.KINDS for python in ("3.12", "3.13") for stack in ("sync", "gevent")
    for workers in (1, 2)]


def test_choose_keeps_only_what_every_choice_allows():
    chosen = matrix.choose(SESSIONS, "capacity_on", ["gevent"], ["3.13"], ["1", "2"])
    assert [c["session"] for c in chosen] == ["capacity_on-3.13(server='gevent', workers=1)",
                                              "capacity_on-3.13(server='gevent', workers=2)"]
    assert chosen[0] == {"session": "capacity_on-3.13(server='gevent', workers=1)",
                         "python": "3.13", "stack": "gevent", "workers": 1}
    assert matrix.choose(SESSIONS, "bench_on", ["sync"], ["3.12"], ["2"]) == [
        {"session": "bench_on-3.12(server='sync', workers=2)", "python": "3.12",
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
    assert [e["session"] for e in entries] == ["bench_on-3.12(server='gevent', workers=1)",
                                               "bench_on-3.13(server='gevent', workers=1)"]


@pytest.mark.parametrize(("argv", "named"), [
    (["--workers", "3"], "'3': 3 is not accepted (accepted: all, or a comma-separated "
                         "list of 1, 2)"),
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
