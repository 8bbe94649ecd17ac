import os
import platform
import sys
import sysconfig
from pathlib import Path

import pytest

from pyserverbench.harness.machine import python_facts
from pyserverbench.matrix.pythons import available, ends, free_threaded, gil_disabled, newest_of

CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(autouse=True)
def running_python_on_path(monkeypatch):
    """Put this interpreter's pythonX.Y first on PATH, as nox does for a session."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def test_the_running_python_is_found_and_a_missing_one_is_not():
    assert available(["0.1", CURRENT]) == [CURRENT]


def test_newest_compares_versions_as_numbers():
    assert newest_of(available(["0.1", CURRENT])) == CURRENT
    assert newest_of(available(["0.1", "0.2"])) is None
    assert newest_of(["3.9", "3.10"]) == "3.10"
    assert ends(["3.12", "3.9", "3.10"]) == ("3.9", "3.12")
    assert ends([]) is None


def _stand_in(bin_dir: Path, name: str, gil_off: bool) -> None:
    """A `pythonX.Yt` on PATH: this interpreter, made to report the GIL off if asked
    (a sitecustomize sets what a free-threaded build reports)."""
    site = bin_dir / f"{name}-site"
    site.mkdir()
    if gil_off:
        (site / "sitecustomize.py").write_text("import sys\nsys._is_gil_enabled = lambda: False\n")
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
    script.chmod(0o755)


def test_free_threaded_builds_are_found_by_the_gil_state_they_report(tmp_path, monkeypatch):
    _stand_in(tmp_path, "python9.8t", gil_off=True)
    _stand_in(tmp_path, "python9.7t", gil_off=False)  # a build run with PYTHON_GIL=1
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert gil_disabled("python9.8t") and not gil_disabled("python9.7t")
    assert free_threaded(["9.6", "9.7", "9.8", CURRENT]) == ["9.8t"]
    assert not gil_disabled(f"python{CURRENT}")  # a regular build keeps its GIL


def test_a_free_threaded_build_is_its_own_python_entry(monkeypatch):
    assert python_facts()["python"] == platform.python_version()
    monkeypatch.setattr(sysconfig, "get_config_var",
                        lambda name: 1 if name == "Py_GIL_DISABLED" else None)
    facts = python_facts()
    assert facts["python"] == platform.python_version() + "t" and facts["free_threaded"]


def test_the_suite_starts_processes_on_the_oldest_and_newest_python_found():
    from pyserverbench.matrix.pythons import pytest_arguments

    found = ["3.11", "3.10", "3.12", "3.13"]
    assert pytest_arguments("3.10", found, []) == ["-m", "not newest"]
    assert pytest_arguments("3.13", found, []) == []
    assert pytest_arguments("3.11", found, []) == ["-m", "not processes and not fuzz"]
    assert pytest_arguments("3.12", found, []) == ["-m", "not processes and not fuzz"]
    assert pytest_arguments("3.12", found, ["-k", "x"]) == ["-k", "x"]  # as the user asked
    assert pytest_arguments("3.11", ["3.11"], []) == []  # one Python is both ends
    assert pytest_arguments("3.12", ["3.9", "3.12", "3.10"], []) == []  # by number, not text
    assert pytest_arguments("3.9", ["3.9", "3.12", "3.10"], []) == ["-m", "not newest"]
    assert pytest_arguments("3.14", found, []) == []  # not found: the whole suite
