"""A step waits for a rested server: real processes, one idle and one busy."""

import subprocess
import sys

import pytest

from pyserverbench.measure.steps import rest

pytestmark = pytest.mark.processes


@pytest.mark.parametrize(("code", "least", "most"), [
    ("import time; time.sleep(30)", 0.1, 0.5),  # idle: at rest after the least wait
    ("while True: pass", 0.6, 5.0),  # busy: waited for until the deadline
])
def test_a_tree_is_waited_for_until_it_rests_or_the_deadline(code, least, most):
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        waited = rest([child.pid], window_s=0.1, deadline_s=0.6, least_s=0.1)
    finally:
        child.kill()
        child.wait()
    assert least <= waited < most
