"""A step waits for a rested server: real processes, one idle and one busy."""

import subprocess
import sys

import pytest

from pyserverbench.measure.steps import rest

pytestmark = pytest.mark.processes


def started(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_an_idle_tree_is_at_rest_after_the_least_wait():
    idle = started("import time; time.sleep(30)")
    try:
        waited = rest([idle.pid], window_s=0.1, deadline_s=5.0, least_s=0.1)
    finally:
        idle.kill()
        idle.wait()
    assert 0.1 <= waited < 1.0


def test_a_busy_tree_is_waited_for_until_the_deadline():
    busy = started("while True: pass")
    try:
        waited = rest([busy.pid], window_s=0.1, deadline_s=0.6, least_s=0.1)
    finally:
        busy.kill()
        busy.wait()
    assert waited >= 0.6
