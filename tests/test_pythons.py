import os
import sys
from pathlib import Path

import pytest

from pyserverbench.pythons import available, newest

CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(autouse=True)
def running_python_on_path(monkeypatch):
    """Put this interpreter's pythonX.Y first on PATH, as nox does for a session."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def test_the_running_python_is_found_and_a_missing_one_is_not():
    assert available(["0.1", CURRENT]) == [CURRENT]


def test_newest_compares_versions_as_numbers():
    assert newest(["0.1", CURRENT]) == CURRENT
    assert newest(["0.1", "0.2"]) is None
