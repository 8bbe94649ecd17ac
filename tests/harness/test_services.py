"""The processes a measurement stands on: the fake DB's command line, the clean-room
environments, and which workers are running (a real start is in measure/test_closed_runs)."""

import json
import os
import sys

import psutil
from helpers import ROOT

from pyserverbench.harness.services import (
    fakedb_argv,
    fakedb_environment,
    server_environment,
    workers_running,
)


def test_the_fake_db_runs_on_this_python_at_the_given_address_and_latency():
    assert fakedb_argv("127.0.0.1", 6200, 25) == [
        sys.executable, "-m", "fakedb", "--host", "127.0.0.1", "--port", "6200", "--sleep", "25"]


def test_the_server_is_told_where_the_fake_db_and_its_probe_are(tmp_path):
    env = server_environment(tmp_path, "http://127.0.0.1:6200/", tmp_path / "probe")
    assert env["PYSERVERBENCH_DB_URL"] == "http://127.0.0.1:6200/"
    assert env["PYSERVERBENCH_PROBE_DIR"] == str(tmp_path / "probe")
    assert env["PYTHONPATH"] == str(ROOT) and env["HOME"] == str(tmp_path)
    db = fakedb_environment(tmp_path)
    assert db["PYTHONPATH"] == str(ROOT) and not any(k.startswith("PYSERVERBENCH") for k in db)


class _Tree:
    """A started process whose tree is this test's own process."""

    def tree(self):
        return [psutil.Process()]


def test_only_workers_in_the_servers_tree_that_loaded_the_app_are_running(tmp_path):
    for pid in (os.getpid(), 1):  # ours, and one outside the server's tree
        (tmp_path / f"{pid}.json").write_text(json.dumps({"pid": pid, "loop": "none"}))
        (tmp_path / f"{pid}.count").write_bytes(bytes(8))
    assert workers_running(_Tree(), tmp_path) == [os.getpid()]
