"""Which of the supported Pythons this machine can run. Standard library only."""

from __future__ import annotations

import shutil
import subprocess


def _ask(command: str, code: str) -> str | None:
    """What `command -c code` prints, or None if it is not on PATH or does not start
    (pyenv shims may not)."""
    if shutil.which(command) is None:
        return None
    try:
        done = subprocess.run([command, "-c", code], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def runs(version: str) -> bool:
    """True if `pythonX.Y` is on PATH and actually starts."""
    return _ask(f"python{version}", "pass") is not None


def available(versions: list[str]) -> list[str]:
    """The versions, in the given order, that run here."""
    return [version for version in versions if runs(version)]


def _order(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def newest_of(found: list[str]) -> str | None:
    """The newest of versions already found, by number."""
    return max(found, key=_order) if found else None


def ends(found: list[str]) -> tuple[str, str] | None:
    """The oldest and the newest of versions found, by number."""
    return (min(found, key=_order), max(found, key=_order)) if found else None


GIL_STATE = "import sys; print(getattr(sys, '_is_gil_enabled', lambda: True)())"


def gil_disabled(command: str) -> bool:
    """True if `command` starts a Python that reports the GIL disabled (a free-threaded
    build, Python 3.13t and later, run without PYTHON_GIL=1)."""
    return _ask(command, GIL_STATE) == "False"


def free_threaded(versions: list[str]) -> list[str]:
    """`X.Yt` for each version whose free-threaded `pythonX.Yt` is on PATH, GIL off."""
    return [f"{version}t" for version in versions if gil_disabled(f"python{version}t")]


BETWEEN = "not processes and not fuzz"  # what the Pythons between the ends run
OLDEST = "not newest"  # what the oldest leaves to the newest (the harness's own processes)


def pytest_arguments(python: str, found: list[str], posargs: list[str]) -> list[str]:
    """What `nox -s tests` gives pytest on one Python: the whole suite on the newest
    Python found; on the oldest, all but the tests marked `newest` (processes whose
    behaviour is the harness's, not the apps' under a Python: PostgreSQL, signals, the
    browser); the tests that start no process and fuzz nothing on those between (each
    Python's real servers are the same code; the ends catch what a version changes);
    and whatever the user passed, as passed."""
    if posargs:
        return list(posargs)
    if python not in found:
        return []
    oldest, newest = ends(found) or (python, python)
    if python == newest:
        return []
    return ["-m", OLDEST] if python == oldest else ["-m", BETWEEN]
