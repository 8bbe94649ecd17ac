import contextlib
import sys
import time

import psutil
import pytest

from pyserverbench.harness import procs
from pyserverbench.harness.procs import (
    Process,
    ProcessError,
    free_port,
    free_ports,
    log_excerpt,
    port_is_free,
    stop_all,
)

PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)
IGNORES_SIGTERM = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)

LEADER_DIES_CHILD_STAYS = (  # the leader dies at SIGTERM, its child ignores it
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {IGNORES_SIGTERM!r}])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)

pytestmark = [pytest.mark.processes, pytest.mark.newest]  # the harness's process groups


def _log_has_line(path) -> bool:
    return path.exists() and path.read_text().strip() != ""


def test_stop_ends_the_whole_process_group(tmp_path):
    log = tmp_path / "p.log"
    with Process("parent", [sys.executable, "-c", PARENT_WITH_CHILD], log) as proc:
        proc.wait_until(lambda: _log_has_line(log), 20, "started")
        child_pid = int(log.read_text().split()[0])
        parent_pid = proc.pid
        assert psutil.pid_exists(child_pid)
    assert not psutil.pid_exists(parent_pid)
    assert not psutil.pid_exists(child_pid) or \
        psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE


def test_stop_leaves_no_member_of_the_group_when_the_leader_exits_first(tmp_path):
    log = tmp_path / "p.log"
    proc = Process("leader", [sys.executable, "-c", LEADER_DIES_CHILD_STAYS], log)
    proc.start()
    proc.wait_until(lambda: "ready" in log.read_text(), 20, "started")
    child = psutil.Process(int(log.read_text().split()[0]))
    proc.stop(grace_s=0.5)
    assert proc.exited() is not None
    try:
        with contextlib.suppress(psutil.NoSuchProcess):
            assert child.status() == psutil.STATUS_ZOMBIE, "the child outlived the stop"
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()  # only if the assertion failed: leave nothing behind


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    log = tmp_path / "p.log"
    proc = Process("stubborn", [sys.executable, "-c", IGNORES_SIGTERM], log)
    proc.start()
    proc.wait_until(lambda: _log_has_line(log), 20, "started")
    start = time.monotonic()
    proc.stop(grace_s=0.5)
    assert proc.exited() == -9
    assert time.monotonic() - start < 5


def test_an_exit_during_start_up_is_reported_at_once_with_the_log(tmp_path):
    argv = [sys.executable, "-c", "print('cannot bind, giving up'); raise SystemExit(3)"]
    with Process("server", argv, tmp_path / "s.log") as proc:
        start = time.monotonic()
        with pytest.raises(ProcessError, match="exited with code 3.*cannot bind, giving up"):
            proc.wait_until(lambda: False, 30, "answering")
        assert time.monotonic() - start < 5


def test_a_readiness_deadline_raises(tmp_path):
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    with Process("slow", argv, tmp_path / "s.log") as proc, \
            pytest.raises(ProcessError, match="not answering after 0.3 s"):
        proc.wait_until(lambda: False, 0.3, "answering")


def test_a_missing_program_is_a_process_error(tmp_path):
    with pytest.raises(ProcessError, match="cannot start"):
        Process("ghost", ["/no/such/program"], tmp_path / "g.log").start()


def test_stop_all_stops_what_is_still_running(tmp_path, monkeypatch):
    # Only this test's process: the session's fake DB (conftest) must outlive it.
    monkeypatch.setattr(procs, "_live", [])
    proc = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"],
                   tmp_path / "s.log")
    proc.start()
    stop_all()
    assert proc.exited() is not None


def test_free_port_is_free():
    assert port_is_free(free_port())


def test_free_ports_are_different_and_free():
    ports = free_ports(50)
    assert len(set(ports)) == 50
    assert all(port_is_free(port) for port in ports)


def test_an_excerpt_of_a_log_leads_with_the_first_exception_the_tail_hides(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("booting\nTraceback (most recent call last):\n  File x\n"
                   "ModuleNotFoundError: No module named 'flask'\n"
                   + "".join(f"master line {n}\n" for n in range(8)))
    excerpt = log_excerpt(log)
    assert excerpt.startswith("ModuleNotFoundError: No module named 'flask' | ... | ")
    assert excerpt.endswith("master line 7") and "master line 2" not in excerpt
    log.write_text("a\nValueError: shown already\n")
    assert log_excerpt(log) == "a | ValueError: shown already"
    log.write_text("nothing raised\n")
    assert log_excerpt(log) == "nothing raised"
    assert log_excerpt(tmp_path / "missing.log") == ""
