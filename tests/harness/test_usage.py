import os
import resource
import socket
import subprocess
import sys
import threading
import time
import types

import pytest

from pyserverbench.harness.procs import Process
from pyserverbench.harness.usage import LoadMonitor, TreeUsage, split_facts

BUSY = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\ntime.sleep(30)\n"


def test_an_even_split_is_not_flagged():
    assert split_facts({1: [5, 5], 2: [5, 5]}) == {"shares": [0.5, 0.5], "uneven": False}


def test_a_lopsided_or_empty_worker_is_flagged():
    assert split_facts({1: [8, 8], 2: [2, 2]})["uneven"] is True
    assert split_facts({1: [10], 2: [0]})["uneven"] is True


def test_too_few_connections_to_judge_are_not_flagged():
    assert split_facts({1: [1, 0], 2: [0, 0]})["uneven"] is False
    assert split_facts({})["shares"] == []


@pytest.mark.processes
def test_tree_usage_counts_cpu_seconds_and_memory_of_a_real_process(tmp_path):
    with Process("busy", [sys.executable, "-c", BUSY], tmp_path / "b.log") as proc:
        usage = TreeUsage(proc.pid)
        usage.sample()
        time.sleep(1.2)
        usage.sample()
    assert 0.5 < usage.cpu_seconds() < 1.5
    assert usage.peak_total_rss > 1_000_000


def test_split_boundaries():
    assert split_facts({1: [3], 2: [2]})["uneven"] is False  # 1.5 exactly is still even
    assert split_facts({1: [1], 2: [2]}) == {"shares": [0.667, 0.333], "uneven": True}
    assert split_facts({1: [2], 2: [0]})["uneven"] is True  # two connections: enough to judge
    assert split_facts({1: [1], 2: [0]})["uneven"] is False  # one is not
    assert split_facts({1: [9]}) == {"shares": [1.0], "uneven": False}  # one worker
    assert split_facts({1: [], 2: [4]}) == {"shares": [1.0, 0.0], "uneven": True}


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_tree_usage_of_this_process_matches_its_own_clock():
    pid = os.getpid()
    usage = TreeUsage(pid)
    usage.sample()
    start = time.process_time()
    _burn(0.3)
    usage.sample()
    burned = time.process_time() - start
    assert usage.cpu_seconds(pid) == pytest.approx(burned, abs=0.03)
    assert usage.cpu_seconds() >= usage.cpu_seconds(pid)  # the tree holds at least this one
    assert usage.cpu_seconds(pid + 10**7) == 0  # a pid never sampled adds nothing
    assert usage.peak_rss[pid] > 10 * 2**20 and usage.peak_total_rss >= usage.peak_rss[pid]
    assert usage.peak_threads[pid] >= threading.active_count()  # OS threads include Python's


def test_the_load_monitor_counts_a_workers_connections_and_cpu():
    pid = os.getpid()
    me = types.SimpleNamespace(pid=pid)  # the server, the fake DB and the one worker
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        accepted = [listener.accept()[0] for _ in clients]
        try:
            monitor = LoadMonitor(me, port, me, [pid], cpu_interval_s=0.0,
                                  connection_interval_s=3600)
            monitor.tick()
            _burn(0.2)
            monitor.tick()  # CPU sampled again, connections not (interval not over)
        finally:
            for s in clients + accepted:
                s.close()
    assert monitor.connections == {pid: [2]}
    facts = monitor.facts(k6_wall_s=1.234)
    [worker] = facts["server"]["workers"]
    assert worker["pid"] == pid and worker["connections_mean"] == 2.0
    assert worker["cpu_s"] >= 0.15 and facts["server"]["cpu_s"] >= worker["cpu_s"]
    assert worker["peak_rss_bytes"] == monitor.server.peak_rss[pid] > 0
    assert facts["server"]["peak_rss_bytes"] == monitor.server.peak_total_rss
    assert facts["server"]["processes"] == len(monitor.server.last_cpu) >= 1
    assert facts["fakedb"]["cpu_s"] >= 0.15
    assert facts["k6"]["wall_s"] == 1.23 and facts["k6"]["cpu_s"] >= 0
    assert facts["window_s"] >= 0.19
    assert facts["connections"] == {"shares": [1.0], "uneven": False}


def test_a_worker_gone_during_the_load_counts_no_connections():
    me = types.SimpleNamespace(pid=os.getpid())
    gone = 2**22 + 12345  # above the kernel's pid limit: never a live process
    monitor = LoadMonitor(me, 1, me, [gone])
    monitor.tick()
    assert monitor.connections == {gone: [0]}
    [worker] = monitor.facts(1.0)["server"]["workers"]
    assert worker == {"pid": gone, "cpu_s": 0, "peak_rss_bytes": 0, "connections_mean": 0.0}


SERVER_LIKE = (  # a listener with two accepted connections, one left in its backlog
    "import socket, subprocess, sys, time\n"
    "listener = socket.create_server(('127.0.0.1', 0))\n"
    "port = listener.getsockname()[1]\n"
    "clients = [socket.create_connection(('127.0.0.1', port)) for _ in range(3)]\n"
    "accepted = [listener.accept()[0] for _ in range(2)]\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\n"
    "print(port, child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _ready(proc: Process) -> list[int]:
    """Wait for the numbers the script prints once it is ready, and return them."""
    proc.wait_until(lambda: proc.log_path.exists() and proc.log_path.read_text().strip() != "",
                    20, "ready")
    return [int(x) for x in proc.log_path.read_text().split()]


def test_the_load_monitor_reads_another_process_tree(tmp_path):
    log = tmp_path / "server.log"
    with Process("server-like", [sys.executable, "-c", SERVER_LIKE], log) as server:
        port, child = _ready(server)
        subprocess.run([sys.executable, "-c", "pass"], check=True)  # a child reaped before
        monitor = LoadMonitor(server, port, server, [server.pid], cpu_interval_s=3600)
        monitor.tick()
        monitor.tick()  # within the interval: nothing sampled again
        facts = monitor.facts(k6_wall_s=10.0)
    assert monitor.connections == {server.pid: [2]}  # accepted on the port: not the clients
    assert set(monitor.server.last_cpu) == set(monitor.db.last_cpu) == {server.pid, child}
    assert facts["server"]["processes"] == 2
    assert facts["server"]["cpu_s"] == facts["fakedb"]["cpu_s"] == 0  # one sample each
    assert facts["server"]["peak_rss_bytes"] == sum(monitor.server.peak_rss.values())
    assert facts["k6"]["cpu_s"] == 0  # no child of ours was reaped during the load
    assert 0 <= facts["window_s"] < 1
    assert set(facts) == {"window_s", "server", "fakedb", "k6", "harness", "connections"}
    assert facts["harness"]["cpu_s"] >= 0
    assert set(facts["fakedb"]) == {"cpu_s", "peak_rss_bytes"}
    assert set(facts["server"]) == {"cpu_s", "peak_rss_bytes", "processes", "workers"}


BUSY_CHILD = (  # a parent that idles and a child that works
    "import subprocess, sys, time\n"
    "busy = 'import time\\nend = time.time() + 5\\nwhile time.time() < end: pass\\n'\n"
    "child = subprocess.Popen([sys.executable, '-c', busy])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_workers_cpu_is_its_own_and_the_servers_the_whole_trees(tmp_path):
    log = tmp_path / "parent.log"
    with Process("parent", [sys.executable, "-c", BUSY_CHILD], log) as parent:
        _ready(parent)
        monitor = LoadMonitor(parent, 1, parent, [parent.pid], cpu_interval_s=0.0)
        monitor.tick()
        time.sleep(1.0)
        monitor.tick()
        facts = monitor.facts(1.0)
    [worker] = facts["server"]["workers"]
    # the parent idled; its child had a core's worth of work for the whole second
    assert worker["cpu_s"] < 0.1 and facts["server"]["cpu_s"] > 0.3


def test_k6s_cpu_is_the_user_and_system_time_of_the_children_reaped_meanwhile():
    me = types.SimpleNamespace(pid=os.getpid())
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    monitor = LoadMonitor(me, 1, me, [])
    work = "import os\nfor _ in range(300_000): os.stat('/')"  # user and system time
    subprocess.run([sys.executable, "-c", work], check=True)  # plays k6
    facts = monitor.facts(2.0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert facts["k6"] == {"cpu_s": round(used, 3), "wall_s": 2.0}
    assert after.ru_stime - before.ru_stime > 0.01  # so the two times cannot be confused


def test_peaks_are_the_highest_sample_not_the_last():
    pid = os.getpid()
    usage = TreeUsage(pid)
    usage.sample()
    big = b"x" * (200 * 2**20)  # resident while it lives
    done = threading.Event()
    extra = threading.Thread(target=done.wait)
    extra.start()
    usage.sample()
    high_rss, high_threads = usage.peak_rss[pid], usage.peak_threads[pid]
    del big
    done.set()
    extra.join()
    usage.sample()
    assert usage.peak_rss[pid] == high_rss and usage.peak_threads[pid] == high_threads
    assert high_rss > 200 * 2**20 and usage.peak_total_rss >= high_rss


def test_the_window_is_rounded_to_ten_milliseconds():
    me = types.SimpleNamespace(pid=os.getpid())
    monitor = LoadMonitor(me, 1, me, [])
    monitor.window_s = 1.23456
    assert monitor.facts(1.0)["window_s"] == 1.23


def test_a_worker_without_samples_has_no_mean_and_means_are_rounded():
    me = types.SimpleNamespace(pid=os.getpid())
    monitor = LoadMonitor(me, 1, me, [1, 2])
    monitor.connections[2] = [1, 0, 0]
    facts = monitor.facts(1.0)
    assert [w["connections_mean"] for w in facts["server"]["workers"]] == [0.0, 0.33]
    assert facts["window_s"] == 0.0  # never ticked


def test_the_harness_counts_its_own_cpu_during_the_load():
    me = types.SimpleNamespace(pid=os.getpid())
    monitor = LoadMonitor(me, 1, me, [])
    start = time.process_time()
    _burn(0.2)
    facts = monitor.facts(1.0)
    assert facts["harness"]["cpu_s"] == pytest.approx(time.process_time() - start, abs=0.02)
